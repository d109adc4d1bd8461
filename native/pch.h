// Precompiled once per build (CMake target_precompile_headers): these headers are most of every file's compile time.
#pragma once
#include <ATen/ATen.h>
#include <napi.h>
