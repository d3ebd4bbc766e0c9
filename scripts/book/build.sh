#!/usr/bin/env bash
# Builds the book (docs/book) into $CARGO_TARGET_DIR/book (default target/book):
#   1. runs every example named crates/*/examples/book_*.rs (each asserts what it prints) and
#      keeps its output in docs/book/src/generated/, which the chapters include;
#   2. renders the chapters with mdbook 0.5 and mdbook-katex 0.10 (math to HTML at build time);
#   3. copies KaTeX's stylesheet and fonts, from the `katex` npm package at the version
#      mdbook-katex renders with, and KaTeX's licence into book/katex/: the pages load nothing
#      from the network.
# Needs mdbook and mdbook-katex on PATH (.ci/run installs them) and npm (for KaTeX's files,
# fetched once into $CARGO_TARGET_DIR/katex-<version>/).
set -euo pipefail
cd "$(dirname "$0")/../.."
target=${CARGO_TARGET_DIR:-$PWD/target}
out="$target/book"
generated=docs/book/src/generated
# mdbook-katex 0.10.0 renders with KaTeX 0.16.4 (its `katex` crate's KATEX-VERSION); the
# stylesheet must be the same version. The tarball's SHA-1 is npm's published `dist.shasum`.
katex_version=0.16.4
katex_sha1=87021bc3bbd80586ef715aeb476794cba6a49ad4

rm -rf "$generated"
mkdir -p "$generated"
for example in crates/*/examples/book_*.rs; do
  crate=$(dirname "$(dirname "$example")")
  package=$(sed -n 's/^name *= *"\(.*\)"/\1/p' "$crate/Cargo.toml" | head -n 1)
  name=$(basename "$example" .rs)
  echo "==> cargo run --release -p $package --example $name"
  cargo run --release --locked --quiet -p "$package" --example "$name" >"$generated/$name.txt"
  cat "$generated/$name.txt"
done

katex="$target/katex-$katex_version"
if [ ! -s "$katex/package/dist/katex.min.css" ]; then
  rm -rf "$katex"
  mkdir -p "$katex"
  (cd "$katex" && npm pack --silent "katex@$katex_version" >/dev/null)
  echo "$katex_sha1  $katex/katex-$katex_version.tgz" | sha1sum -c --quiet
  tar -xzf "$katex/katex-$katex_version.tgz" -C "$katex"
fi

rm -rf "$out"
mdbook build docs/book --dest-dir "$out"
mkdir -p "$out/katex"
cp "$katex/package/dist/katex.min.css" "$out/katex/"
cp -r "$katex/package/dist/fonts" "$out/katex/"
cp "$katex/package/LICENSE" "$out/katex/LICENSE"
echo "book: $out/index.html"
