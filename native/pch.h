// Precompiled once per build (CMake target_precompile_headers): these headers are most of every file's compile
// time. torch/nn.h and torch/optim.h serve native/lvm/models/ and native/torch/optim/; everything else needs only ATen.
#pragma once
#include <ATen/ATen.h>
#include <napi.h>
#include <torch/nn.h>
#include <torch/optim.h>
