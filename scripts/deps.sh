# Sourced by scripts/test and scripts/main: installs what is missing (Debian, as root) and
# says clearly what is still missing otherwise. Nothing is installed when everything is present.
opara_need=()
command -v cmake >/dev/null 2>&1 || opara_need+=(cmake)
command -v ninja >/dev/null 2>&1 || opara_need+=(ninja-build)
[ -f /usr/include/doctest/doctest.h ] || [ -f /usr/local/include/doctest/doctest.h ] || opara_need+=(doctest-dev)
[ -f /usr/include/boost/graph/adjacency_list.hpp ] || [ -f /usr/local/include/boost/graph/adjacency_list.hpp ] || opara_need+=(libboost-graph-dev)
if [ ${#opara_need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "opara: installing ${opara_need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || { echo "opara: apt-get update failed" >&2; exit 1; }
    apt-get install -y -qq --no-install-recommends "${opara_need[@]}" >/dev/null || { echo "opara: apt-get install ${opara_need[*]} failed" >&2; exit 1; }
  else
    echo "opara: missing ${opara_need[*]}; install them (Debian: apt-get install -y ${opara_need[*]})" >&2
    exit 1
  fi
fi
# nvcc is optional: CUDA parts are built when it is found (on PATH or in /usr/local/cuda).
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH=/usr/local/cuda/bin:$PATH
fi
opara_jobs=$(nproc 2>/dev/null || echo 2)
# True when a CUDA device can be used here (nvidia-smi lists one).
opara_has_gpu() { command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU '; }
