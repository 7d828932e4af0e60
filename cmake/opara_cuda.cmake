# CUDA targets of opara. Included from the top-level CMakeLists.txt once CUDA is enabled.

# opara_cuda_cxx20(target): CMake < 3.26 knows no C++20 flag for nvcc 13 and silently uses C++17.
function(opara_cuda_cxx20 target scope)
  if(CMAKE_VERSION VERSION_LESS 3.26)
    target_compile_options(${target} ${scope} $<$<COMPILE_LANGUAGE:CUDA>:-std=c++20>)
  else()
    target_compile_features(${target} ${scope} cuda_std_20)
  endif()
endfunction()

add_library(opara_cuda INTERFACE)
add_library(opara::cuda ALIAS opara_cuda)
set_target_properties(opara_cuda PROPERTIES EXPORT_NAME cuda)
target_link_libraries(opara_cuda INTERFACE opara::opara CUDA::cudart)
if(TARGET CUDA::nvtx3)
  target_link_libraries(opara_cuda INTERFACE CUDA::nvtx3)
endif()
opara_cuda_cxx20(opara_cuda INTERFACE)

add_library(opara_cupti INTERFACE)
add_library(opara::cupti ALIAS opara_cupti)
set_target_properties(opara_cupti PROPERTIES EXPORT_NAME cupti)
target_link_libraries(opara_cupti INTERFACE opara::cuda CUDA::cupti)
