#!/bin/sh
# Build the store fuzzer with clang (libFuzzer + ASan/UBSan) and run it for a bounded time.
# Usage: run_store_fuzz.sh SOURCE_DIR WORK_DIR SECONDS. Exit 125 (skip) without clang's libFuzzer.
set -eu
src=$1 work=$2 seconds=${3:-30}
command -v clang++ >/dev/null 2>&1 || { echo "SKIP: clang++ not installed"; exit 125; }
mkdir -p "$work/corpus"
if ! clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$src/include" "$src/tests/fuzz/store_fuzz.cpp" "$src/src/store/protocol.cpp" "$src/src/store/store_state.cpp" \
    -o "$work/store_fuzz" 2>"$work/build.log"; then
  if grep -q "fuzzer" "$work/build.log"; then echo "SKIP: libFuzzer runtime missing"; cat "$work/build.log"; exit 125; fi
  cat "$work/build.log"; exit 1
fi
# Seeds: a 1.13 SET+GET and a current-dialect VALIDATE+PING+SET.
printf '\000\003\000\000\000\000\000\000\000/k1\002\000\000\000\000\000\000\000v1\002\003\000\000\000\000\000\000\000/k1' > "$work/corpus/legacy"
printf '\000\316\367\205\074\015\001\002\003\004\001\001\000\000\000\000\000\000\000a\001\000\000\000\000\000\000\000b' > "$work/corpus/current"
exec "$work/store_fuzz" -max_total_time="$seconds" -rss_limit_mb=1024 -max_len=4096 "$work/corpus"
