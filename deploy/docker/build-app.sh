#!/bin/sh
# The build steps both images share (Dockerfile: CPU, Dockerfile.cuda: CUDA backend too), run in
# the build stage from /app:
#   build-app.sh deps      pnpm install from the lockfile (manifests only: a cached layer)
#   build-app.sh build     native addon (+ the CUDA backend where nvcc is found) and TypeScript
#   build-app.sh prune     production dependencies only; no sources, tests or object files
# CPU_BASELINE: the x86-64 level the engine is compiled for (its AVX2 / AVX-512 kernels are built
# with target pragmas and picked at run time, so never -march=native: an older node would SIGILL).
set -eu
case "${1:-}" in
deps)
  pnpm install --frozen-lockfile
  ;;
build)
  # gyp's Makefiles append $CFLAGS/$CXXFLAGS to the target's flags (binding.gyp sets -O3).
  CFLAGS="-march=${CPU_BASELINE:-x86-64-v2} -mtune=generic" \
  CXXFLAGS="-march=${CPU_BASELINE:-x86-64-v2} -mtune=generic" \
    node scripts/build-native.mjs
  pnpm exec tsc -b tsconfig.json
  ;;
prune)
  # `install --prod` relinks; `prune --prod` then empties the virtual store of the dev packages
  # (node_modules 226 MB -> 77 MB when these steps were run outside Docker).
  pnpm install --frozen-lockfile --prod --config.confirmModulesPurge=false
  pnpm prune --prod --config.confirmModulesPurge=false
  find packages/engine-native/build -mindepth 1 -maxdepth 1 ! -name Release ! -name cuda -exec rm -rf {} +
  find packages/engine-native/build/Release -mindepth 1 ! -name '*.node' -exec rm -rf {} +
  if [ -d packages/engine-native/build/cuda ]; then
    find packages/engine-native/build/cuda -mindepth 1 ! -name '*.so' -exec rm -rf {} +
  fi
  rm -rf packages/*/src packages/*/test packages/*/tsconfig.tsbuildinfo test bench
  ;;
*)
  echo "usage: build-app.sh deps|build|prune" >&2
  exit 2
  ;;
esac
