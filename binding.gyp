# A node-gyp build of the same native/ sources as CMakeLists.txt (`npm run build:gyp`). libtorch's paths come
# from scripts/libtorch-paths.mjs, the search the loader runs at load time; `npm run build:ts` must run first.
{
  'variables': {
    'libtorch_include': '<!(node scripts/libtorch-paths.mjs --include)',
    'libtorch_libdir': '<!(node scripts/libtorch-paths.mjs --lib-dir)',
    'libtorch_libs': '<!(node scripts/libtorch-paths.mjs --libs)',
    'libtorch_abi': '<!(node scripts/libtorch-paths.mjs --cxx11-abi)',
    'libtorch_version': '<!(node scripts/libtorch-paths.mjs --version)',
  },
  'targets': [
    {
      'target_name': 'lvmtorch',
      'sources': ['<!@(node -p "require(\'fs\').readdirSync(\'native\', { recursive: true }).filter(f => f.endsWith(\'.cc\') && f !== \'preload.cc\').sort().map(f => \'native/\' + f).join(\' \')")'],
      'include_dirs': ['<!(node -p "require(\'node-addon-api\').include_dir")', '<@(libtorch_include)'],
      'defines': [
        'NAPI_VERSION=8', 'NAPI_CPP_EXCEPTIONS', 'USE_C10D_GLOO', '_GLIBCXX_USE_CXX11_ABI=<(libtorch_abi)',
        'LVMTORCH_LIBTORCH_VERSION="<(libtorch_version)"',
      ],
      'cflags_cc!': ['-fno-exceptions', '-fno-rtti', '-std=gnu++17', '-std=gnu++14', '-std=gnu++20'],
      'cflags_cc': ['-std=c++20', '-fexceptions', '-frtti', '-O2', '-Wno-unused-parameter'],
      # No RUNPATH: the loader opens libtorch by absolute path first (native/preload.cc).
      'libraries': ['-L<(libtorch_libdir)', '<@(libtorch_libs)'],
    },
    {
      'target_name': 'lvmtorch_preload',
      'sources': ['native/preload.cc'],
      'defines': ['NAPI_VERSION=8'],
    },
    {
      'target_name': 'binary_info',
      'type': 'none',
      'dependencies': ['lvmtorch'],
      'actions': [{
        'action_name': 'write_binary_info',
        'inputs': ['<(PRODUCT_DIR)/lvmtorch.node'],
        'outputs': ['<(PRODUCT_DIR)/lvmtorch.json'],
        'action': ['node', 'scripts/write-binary-info.mjs', '<(PRODUCT_DIR)', 'node-gyp'],
      }],
    },
  ],
}
