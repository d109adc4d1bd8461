// What a binary must be to ship in the npm package, read from its ELF headers: no RUNPATH/RPATH naming a folder
// of the machine that built it, and libtorch libraries of one version only (a build against pip's libtorch once
// linked Debian's libc10.so.1.13 too, found first by TorchConfig.cmake's find_library).
import { readDynamic, readSection } from './elf.js';
import { majorMinor } from './find.js';

/** What is wrong with shipping `file` as part of `variant` ("torch-2.13-cpu"); empty when nothing is. */
export function checkShippable(file: string, variant: string): string[] {
  const dyn = readDynamic(file);
  const problems: string[] = [];
  for (const [tag, value] of [['RUNPATH', dyn.runpath], ['RPATH', dyn.rpath]] as const) {
    const absolute = (value ?? '').split(':').filter((p) => p && !p.startsWith('$ORIGIN'));
    if (absolute.length) problems.push(`${tag} names folders of the build machine: ${absolute.join(':')}`);
  }
  const version = /^torch-(\d+\.\d+)-/.exec(variant)?.[1];
  for (const lib of dyn.needed.filter((n) => /^lib(c10|torch)/.test(n))) {
    const suffix = /\.so\.(\d+\.\d+)/.exec(lib)?.[1];
    // Debian names its libraries libtorch.so.1.13; pip's are unversioned: either way, one version.
    if (suffix && majorMinor(suffix) !== version) problems.push(`needs ${lib}, a library of another libtorch than ${variant}'s`);
  }
  // A CUDA variant's addon calls nothing in libtorch_cuda itself; linked --as-needed it would not need it, and
  // then libtorch's CUDA kernels never register (CMakeLists.txt links it with --no-as-needed).
  const linksTorch = dyn.needed.some((n) => /^libtorch/.test(n));
  if (variant.endsWith('-cuda') && linksTorch) {
    for (const lib of ['libtorch_cuda.so', 'libc10_cuda.so']) {
      if (!dyn.needed.includes(lib)) problems.push(`does not need ${lib}: a ${variant} binary without it has no CUDA backend`);
    }
  }
  // native/torch/distributed/ compiles c10d's ProcessGroupGloo.hpp against Debian's Gloo headers, not the commit each
  // libtorch was built with: sound only while the addon calls no Gloo function itself (it holds Gloo objects only
  // through pointers libtorch makes). A gloo:: symbol among the addon's dynamic names would break that.
  const gloo = (readSection(file, '.dynstr')?.toString('latin1').split('\0') ?? []).filter((n) => /^_ZN?K?4gloo/.test(n));
  if (gloo.length) problems.push(`links Gloo symbols itself (${gloo.slice(0, 3).join(', ')}): Gloo's headers need not match this libtorch's Gloo`);
  const suffixes = new Set(dyn.needed.filter((n) => /^lib(c10|torch)/.test(n)).map((n) => /\.so(\.[\d.]+)?$/.exec(n)?.[1] ?? ''));
  if (suffixes.size > 1) problems.push(`needs libtorch libraries of more than one version: ${dyn.needed.filter((n) => /^lib(c10|torch)/.test(n)).join(', ')}`);
  return problems;
}
