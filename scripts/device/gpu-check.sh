#!/usr/bin/env bash
# The ONE command to run on a lent GPU machine (issue 9), from the repository root, with the folders
# that scripts/device/pack.sh filled carried along:
#
#   device run  carry [".device", ".gl"]  command "bash scripts/device/gpu-check.sh"  timeout_s 300
#
# It unpacks Node and the native modules (the machine has Python but no Node), brings the Vulkan
# loader if the machine lacks it, points the loader at the NVIDIA driver's Vulkan manifest, then runs
# the bundled gpu-check: generate the vit-b-32 fixture model (fp32, fp16), encode 256 images and 256
# queries on webgpu and on cpu, check every WebGPU embedding against its CPU twin (cosine >= 0.999),
# and write $OUT/gpu-report.json and $OUT/gpu-check.log. Extra arguments go to gpu-check
# (e.g. --providers cpu --images 8 --queries 8 --preset tiny to try it on a CPU machine).
#
# GPU_CHECK_DEADLINE_S (default 180): no new run starts after this; the report is written either way.
# GPU_CHECK_TIMEOUT_S (default 270): the check is stopped after this, inside the device call's limit.
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
out=${OUT:-$root/tmp/gpu-check-out}
if [[ -n ${GPU_CHECK_KIT_DIR:-} ]]; then
  kit=$GPU_CHECK_KIT_DIR
else
  # ~170 MB unpacked: removed on exit so repeated runs on a developer machine don't pile up.
  kit=$(mktemp -d /tmp/imagesearch-kit.XXXXXX)
  trap 'rm -rf "$kit"' EXIT
fi
mkdir -p "$out" "$kit"
log=$out/gpu-check.log
exec > >(tee -a "$log") 2>&1
step() { printf '[gpu-check.sh] %s\n' "$*"; }

for f in .device/node.xz .device/natives.tar.xz .device/kit.tar.xz; do
  if [[ ! -f $f ]]; then
    step "missing $f: run scripts/device/pack.sh here first, and carry .device (and .gl)"
    exit 2
  fi
done

# xz may be missing from a minimal image; Python's lzma reads the same files.
unxz_to() { # src dest
  if command -v xz >/dev/null; then xz -dc "$1" >"$2"; else python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"; fi
}
untar_xz() { # archive dir
  if command -v xz >/dev/null; then tar -xJf "$1" -C "$2"; else python3 -c 'import tarfile,sys; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$1" "$2"; fi
}

t0=$SECONDS
unxz_to .device/node.xz "$kit/node" && chmod +x "$kit/node"
untar_xz .device/natives.tar.xz "$kit"
untar_xz .device/kit.tar.xz "$kit"
step "unpacked node $("$kit/node" --version) and the kit into $kit in $((SECONDS - t0)) s"

# The Vulkan loader: the device README's recipe, only when the machine has none (unpacking over
# a newer system copy could break it).
# Never on a machine without an NVIDIA GPU (a developer trying the script): dpkg -x writes into /.
if ! command -v nvidia-smi >/dev/null && [[ ${GPU_CHECK_INSTALL_GL:-0} != 1 ]]; then
  step "no nvidia-smi: not installing the Vulkan loader (GPU_CHECK_INSTALL_GL=1 forces it)"
elif ! ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'; then
  if compgen -G '.gl/*.deb' >/dev/null; then
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
    step "installed the carried Vulkan loader (.gl)"
  else
    step "no libvulkan.so.1 and no .gl/*.deb carried: webgpu will be skipped"
  fi
fi
ldconfig -p 2>/dev/null | grep -E 'libvulkan\.so\.1|libGLX_nvidia|libcuda\.so\.1' | sed 's/^/  /'

# The NVIDIA manifest lives where the loader doesn't look on these machines (the README's advice).
nvidia_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [[ -z ${VK_DRIVER_FILES:-} && -f $nvidia_icd ]]; then
  export VK_DRIVER_FILES=$nvidia_icd
  export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
fi
if [[ -d /usr/local/nvidia/lib64 ]]; then export LD_LIBRARY_PATH=/usr/local/nvidia/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}; fi
step "VK_DRIVER_FILES=${VK_DRIVER_FILES:-} (manifests: $(ls /usr/share/vulkan/icd.d /etc/vulkan/icd.d 2>/dev/null | tr '\n' ' '))"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
command -v vulkaninfo >/dev/null && vulkaninfo --summary 2>&1 | head -40

# sharp decodes on libuv's pool (4 threads by default): give it the cores so decoding doesn't
# throttle the GPU's images/s.
export UV_THREADPOOL_SIZE=${UV_THREADPOOL_SIZE:-$(($(nproc) > 16 ? 16 : $(nproc)))}

timeout --signal=TERM --kill-after=10 "${GPU_CHECK_TIMEOUT_S:-270}" \
  "$kit/node" "$kit/gpu-check.mjs" \
  --out "$out/gpu-report.json" --deadline-s "${GPU_CHECK_DEADLINE_S:-180}" "$@"
rc=$?
step "gpu-check exited $rc after $((SECONDS - t0)) s; report: $out/gpu-report.json"
exit $rc
