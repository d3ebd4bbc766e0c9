#!/usr/bin/env bash
# Builds the book and checks it in a real browser: each chapter page is loaded in headless
# Chromium (Debian's `chromium`) with every host name unresolvable, so only what the book
# serves itself can load. For each page it saves a screenshot and the rendered DOM under
# $CARGO_TARGET_DIR/book-check/ and fails when the DOM
#   - still holds raw TeX (a `$`, `\(`, `\[` or a `\command` outside code blocks),
#   - holds a KaTeX error node (`.katex-error`), or
#   - links a stylesheet from the network or one the book does not contain;
# and when a font file that KaTeX's stylesheet names is missing from the book,
# and when the chain-rule page has no rendered math at all. Two planted pages (raw TeX, a
# KaTeX error) must fail the same check first, so a check that cannot fail fails here.
#
#   bash scripts/book/check.sh             # build, then check every chapter
#   SKIP_BUILD=1 bash scripts/book/check.sh  # check the book already built
set -euo pipefail
cd "$(dirname "$0")/../.."
target=${CARGO_TARGET_DIR:-$PWD/target}
book="$target/book"
shots="$target/book-check"
[ -n "${SKIP_BUILD:-}" ] || bash scripts/book/build.sh

browser=$(command -v chromium || true)
if [ -z "$browser" ]; then
  echo "book-check: chromium is not installed (apt-get install chromium)" >&2
  exit 1
fi
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
chrome() {
  "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --host-resolver-rules="MAP * ~NOTFOUND" --user-data-dir="$profile" \
    --window-size=1280,1800 --virtual-time-budget=5000 "$@" 2>/dev/null
}

# The rendered DOM on stdin; prints what it found, exits 1 on raw TeX or a KaTeX error.
judge() {
  perl -e '
    local $/; my $h = <STDIN>;
    my $katex = () = $h =~ /class="katex"/g;
    my $errors = () = $h =~ /class="[^"]*\bkatex-error\b/g;
    (my $text = $h) =~ s{<(script|style|pre|code)\b.*?</\1>}{}gs;
    $text =~ s{<[^>]+>}{ }g;
    my @raw;
    while ($text =~ /(.{0,30})(\$|\\\(|\\\[|\\[A-Za-z]+)(.{0,30})/g) { push @raw, "$1$2$3" }
    printf "%d rendered formulas, %d KaTeX errors, %d raw TeX", $katex, $errors, scalar @raw;
    print "; first: \"$raw[0]\"" if @raw;
    print "\n";
    exit(($errors || @raw) ? 1 : 0);
  '
}

# Stylesheets must be the book's own files.
styles() {
  local page=$1 dom=$2 bad=0 href
  while read -r href; do
    case $href in
    http:* | https:* | //*)
      echo "  stylesheet from the network: $href"
      bad=1
      ;;
    *)
      [ -f "$(dirname "$page")/${href%%\?*}" ] || {
        echo "  stylesheet missing from the book: $href"
        bad=1
      }
      ;;
    esac
  done < <(grep -o '<link rel="stylesheet" href="[^"]*"' "$dom" | sed 's/.*href="\([^"]*\)"/\1/')
  return $bad
}

rm -rf "$shots"
mkdir -p "$shots"
fail=0

# Every font KaTeX's stylesheet names is in the book.
fonts=0
while read -r font; do
  fonts=$((fonts + 1))
  [ -s "$book/katex/$font" ] || {
    echo "book-check: $font, named by katex.min.css, is not in the book" >&2
    fail=1
  }
done < <(grep -o 'url(fonts/[^)]*)' "$book/katex/katex.min.css" | sed 's/^url(\(.*\))$/\1/' | sort -u)
[ "$fonts" -gt 0 ] || {
  echo "book-check: katex.min.css names no fonts" >&2
  fail=1
}
echo "KaTeX: katex.min.css and the $fonts font files it names are in the book"

# Negative controls: the check must reject a page with raw TeX and one with a KaTeX error.
cp "$book/chain-rule.html" "$shots/planted-raw.html"
sed -i 's|</main>|<p>$z_{i+1} = W_i a_i$</p></main>|' "$shots/planted-raw.html"
cp "$book/chain-rule.html" "$shots/planted-error.html"
sed -i 's|</main>|<span class="katex-error" title="ParseError">\\frac{1}</span></main>|' "$shots/planted-error.html"
for planted in planted-raw planted-error; do
  # The copies sit outside the book; point their relative links back into it.
  sed -i "s|<head>|<head><base href=\"file://$book/\">|" "$shots/$planted.html"
  if chrome --dump-dom "file://$shots/$planted.html" | judge >/dev/null; then
    echo "book-check: the check passed a planted $planted page; it cannot catch that" >&2
    fail=1
  fi
done

for page in "$book"/*.html; do
  name=$(basename "$page" .html)
  case $name in 404 | print | toc) continue ;; esac
  chrome --screenshot="$shots/$name.png" "file://$page" >/dev/null
  chrome --dump-dom "file://$page" >"$shots/$name.dom.html"
  printf '%-22s ' "$name:"
  if ! judge <"$shots/$name.dom.html"; then
    fail=1
  fi
  styles "$page" "$shots/$name.dom.html" || fail=1
  if [ "$name" = chain-rule ] && ! grep -q 'class="katex"' "$shots/$name.dom.html"; then
    echo "  the chain-rule page has no rendered math"
    fail=1
  fi
  [ -s "$shots/$name.png" ] || {
    echo "  no screenshot"
    fail=1
  }
done
[ $fail = 0 ] && echo "book-check: ok; screenshots and DOM dumps in $shots"
exit $fail
