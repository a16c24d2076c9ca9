# Warnings live on an INTERFACE target so third-party headers are not held to them.
add_library(acc_warnings INTERFACE)
target_compile_options(acc_warnings INTERFACE -Wall -Wextra -Wshadow -Wnon-virtual-dtor -Wpedantic)
if(DEFINED ENV{CI})
  target_compile_options(acc_warnings INTERFACE -Werror)
endif()
