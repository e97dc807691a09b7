#!/usr/bin/env bash
# Installs libpostbox for C programs: libpostbox.so, libpostbox.a, postbox.h and postbox.pc.
#
#   crates/postbox-ffi/install.sh [PREFIX]        # default PREFIX: /usr/local
#
# Builds the library in release mode first, unless POSTBOX_LIB_DIR names a directory that
# already holds libpostbox.so and libpostbox.a. Honours LIBDIR (default PREFIX/lib), INCLUDEDIR
# (default PREFIX/include) and DESTDIR (staged installs for packaging: files go under DESTDIR,
# postbox.pc names the final paths). Afterwards: `pkg-config --cflags --libs postbox`
# (PKG_CONFIG_PATH must include LIBDIR/pkgconfig when that is not a system directory).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
workspace=$(cd "$here/../.." && pwd)
prefix=${1:-/usr/local}
libdir=${LIBDIR:-$prefix/lib}
includedir=${INCLUDEDIR:-$prefix/include}
destdir=${DESTDIR:-}

if [ -n "${POSTBOX_LIB_DIR:-}" ]; then
    built=$POSTBOX_LIB_DIR
else
    cargo build --release --quiet -p postbox-ffi --manifest-path "$workspace/Cargo.toml"
    built=${CARGO_TARGET_DIR:-$workspace/target}/release
fi
for lib in libpostbox.so libpostbox.a; do
    [ -f "$built/$lib" ] || { echo "install.sh: $built/$lib is missing" >&2; exit 1; }
done

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$workspace/Cargo.toml" | head -n 1)
install -d "$destdir$libdir/pkgconfig" "$destdir$includedir"
install -m 0755 "$built/libpostbox.so" "$destdir$libdir/libpostbox.so"
install -m 0644 "$built/libpostbox.a" "$destdir$libdir/libpostbox.a"
install -m 0644 "$here/include/postbox.h" "$destdir$includedir/postbox.h"
sed -e "s|@PREFIX@|$prefix|" -e "s|@LIBDIR@|$libdir|" -e "s|@INCLUDEDIR@|$includedir|" \
    -e "s|@VERSION@|$version|" "$here/postbox.pc.in" >"$destdir$libdir/pkgconfig/postbox.pc"
echo "installed libpostbox $version under $destdir$prefix"
