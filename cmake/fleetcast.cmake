# Per-target build settings shared by every fleetcast target.

# fleetcast_target(<target>): warnings, optional -Werror and sanitizers, repo-rooted includes.
function(fleetcast_target target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
    -Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual -Wimplicit-fallthrough)
  if(FLEETCAST_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  fleetcast_sanitize(${target})
endfunction()

# fleetcast_sanitize(<target>): ASan + UBSan when FLEETCAST_SANITIZE is on. Applied to third-party
# free targets only (ours), so a sanitizer build links the same system libraries as a normal one.
function(fleetcast_sanitize target)
  if(FLEETCAST_FUZZ)
    # Coverage for libFuzzer plus the sanitizers the fuzz targets link (tests/fuzz).
    target_compile_options(${target} PRIVATE
      -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  elseif(FLEETCAST_SANITIZE)
    target_compile_options(${target} PRIVATE
      -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
endfunction()
