#!/usr/bin/env bash
# The packaging check: every library crate under crates/ that may be published (no
# `publish = false`) is ready for crates.io.
#
#   1. Each ships README.md, LICENSE-MIT and LICENSE-APACHE (the root's licence texts, byte for
#      byte), and its manifest has description, readme, keywords, categories and
#      [package.metadata.docs.rs]; no manifest names the placeholder repository URL.
#   2. Its README shows no relative image (crates.io resolves those only against a repository
#      URL, which the crates do not have).
#   3. `cargo package --workspace --locked` builds every package from its .crate file.
#   4. `cargo test --doc` passes inside each extracted package (target/package/<name>-<version>),
#      with the workspace's other crates taken from their extracted packages too, so that a
#      README or doc example that reaches outside its package fails here.
#
# A new crate (e.g. crates/kernels) needs nothing here: only the files and keys of step 1.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
target=${CARGO_TARGET_DIR:-$root/target}
fail=0
problem() {
  echo "package: $*" >&2
  fail=1
}

# The publishable library crates: name and directory.
names=()
dirs=()
for manifest in crates/*/Cargo.toml; do
  grep -Eq '^publish *= *false' "$manifest" && continue
  dir=$(dirname "$manifest")
  [ -f "$dir/src/lib.rs" ] || continue
  names+=("$(sed -n 's/^name *= *"\(.*\)"/\1/p' "$manifest" | head -n 1)")
  dirs+=("$dir")
done
echo "publishable library crates: ${names[*]}"

if grep -n 'example\.invalid' Cargo.toml crates/*/Cargo.toml; then
  problem "a manifest names the placeholder repository URL"
fi
for k in "${!names[@]}"; do
  name=${names[$k]} dir=${dirs[$k]}
  for f in README.md LICENSE-MIT LICENSE-APACHE; do
    [ -s "$dir/$f" ] || problem "$name: $dir/$f is missing"
  done
  for f in LICENSE-MIT LICENSE-APACHE; do
    [ -s "$dir/$f" ] && ! cmp -s "$dir/$f" "$f" && problem "$name: $dir/$f differs from ./$f"
  done
  for key in '^description' '^readme' '^keywords' '^categories' '^\[package\.metadata\.docs\.rs\]' '^license'; do
    grep -Eq "$key" "$dir/Cargo.toml" || problem "$name: $dir/Cargo.toml has no ${key#^}"
  done
  # Markdown images ![alt](url) and HTML <img src="url"> whose url has no scheme.
  if grep -nE '!\[[^]]*\]\(([^h)]|h[^t]|ht[^t]|htt[^p])|<img[^>]*src="([^h"]|h[^t])' "$dir/README.md"; then
    problem "$name: $dir/README.md has a relative image, which crates.io cannot show"
  fi
done
[ $fail = 0 ] || exit 1

# Builds each package from its .crate, against the others' .crate files (a local registry).
# Cargo extracts those .crate files under $CARGO_HOME/registry/src/<registry>/<name>-<version>
# and never again while that directory exists: with the version unchanged, a cargo home kept
# from an earlier run would verify each package against the others' old sources (seen here:
# `backprop` against a `backprop-kernels` without the module it now uses). Remove them first.
cargo_home=${CARGO_HOME:-$HOME/.cargo}
for k in "${!names[@]}"; do
  name=${names[$k]}
  version=$(cargo pkgid --locked -p "$name" | sed 's/.*[@#]//')
  for stale in "$cargo_home"/registry/src/*/"$name-$version" "$cargo_home"/registry/cache/*/"$name-$version.crate"; do
    [ -e "$stale" ] && rm -rf "$stale"
  done
done
cargo package --workspace --locked

# The extracted packages' doc tests, each in its own scratch copy so that cargo sees no
# enclosing workspace (the target dir is the workspace's, where `cargo package` built their
# dependencies); dependencies on the other crates of the workspace point at their
# extracted packages. Cargo.lock is the package's own (it pins every crates.io dependency).
scratch="$target/package-doctest"
rm -rf "$scratch"
mkdir -p "$scratch"
patches=()
for k in "${!names[@]}"; do
  name=${names[$k]}
  version=$(cargo pkgid --locked -p "$name" | sed 's/.*[@#]//')
  cp -r "$target/package/$name-$version" "$scratch/"
  patches+=(--config "patch.crates-io.$name.path=\"$scratch/$name-$version\"")
done
for k in "${!names[@]}"; do
  name=${names[$k]}
  version=$(cargo pkgid --locked -p "$name" | sed 's/.*[@#]//')
  echo
  echo "==> cargo test --doc in target/package/$name-$version"
  (
    cd "$scratch/$name-$version"
    printf '\n[workspace]\n' >>Cargo.toml
    CARGO_TARGET_DIR="$target" cargo test --doc "${patches[@]}"
  ) || problem "$name: doc tests fail inside the package"
done
[ $fail = 0 ] && echo "package: ${#names[@]} crates packaged, doc tests pass inside each package"
exit $fail
