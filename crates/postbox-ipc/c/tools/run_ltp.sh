#!/bin/bash
# Runs each LTP test natively and under the shim; prints one line per test and mode.
SHIM=${SHIM:?the libpostbox_ipc.so to preload}
URL=${POSTBOX_URL:?the daemon to use, e.g. unix:///tmp/pb/s.sock}
LTP=${LTP:?an LTP tree, configured and built}
OUT=${OUT:-/tmp/ltp-out}
cd "$LTP/testcases/kernel/syscalls"
for t in "$@"; do
  dir=$(echo $t | sed 's/[0-9]*$//')
  for mode in native preload; do
    log=$OUT/$t.$mode.log
    mkdir -p "$OUT"
    if [ $mode = native ]; then
      (cd $dir && LTP_TIMEOUT_MUL=1 timeout 120 ./$t > $log 2>&1); rc=$?
    else
      (cd $dir && LTP_TIMEOUT_MUL=1 LD_PRELOAD=$SHIM POSTBOX_URL=$URL timeout 120 ./$t > $log 2>&1); rc=$?
    fi
    sum=$(grep -E "^(passed|failed|broken|skipped|warnings)" $log | awk '{printf "%s=%s ", $1, $2}')
    echo "$t $mode rc=$rc $sum"
  done
done
