#!/usr/bin/env bash
# Assemble the training data of artforge's shipped stylisers (see docs/models.md) into DEST (default data/):
#   DEST/photos  35 photographs: Debian mate-backgrounds "nature" (12), ukui-wallpapers (4),
#                lomiri-wallpapers* (15, Ubuntu wallpaper-contest photos), scikit-image (4)
#   DEST/styles  55 works: Battle for Wesnoth story art (wesnoth-1.16-data + 5 campaigns, GPL-2+) and
#                mate-backgrounds "abstract" (6)
# Needs apt-get (no root: `apt-get download` only fetches .deb files) and artforge's venv with scikit-image.
# Debian's plasma-workspace-wallpapers is NOT used: it is held out for evaluation.
set -euo pipefail
DEST=$(realpath -m "${1:-data}")
PY=${PY:-.venv/bin/python}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$DEST/photos" "$DEST/styles"
cd "$WORK"
apt-get download mate-backgrounds ukui-wallpapers lomiri-wallpapers lomiri-wallpapers-16.04 lomiri-wallpapers-20.04 \
  wesnoth-1.16-data \
  wesnoth-1.16-httt wesnoth-1.16-trow wesnoth-1.16-sotbe wesnoth-1.16-utbs wesnoth-1.16-l >/dev/null
for deb in *.deb; do dpkg -x "$deb" x; done
cp x/usr/share/backgrounds/mate/nature/*.jpg "$DEST/photos/"
for f in goldfish city calla the-mouse; do cp x/usr/share/backgrounds/$f.* "$DEST/photos/"; done
for f in Bridge_by_Sander_Klootwijk Dragonfly_by_Bolly Infinite-Sea_by_Aury88 Kleiber_by_Lukas_Baubkus \
  Picture_0B_by_freespace Picture_1A_by_freespace Wine_by_Jakkub_Mede aitzgorri_by_Aitzol_Berasategi \
  free_by_Peter_Nerlich friends_by_Aitzol_Berasategi greentock_by_Peter_Nerlich life_by_Aitzol_Berasategi \
  picosdeeuropa_by_Aitzol_Berasategi seeding_by_Clements_Engelhardt sunset_by_Aitzol_Berasategi; do
  cp "x/usr/share/backgrounds/$f.jpg" "$DEST/photos/lomiri-$f.jpg"
done
find x -path "*images/story*" \( -name "*.jpg" -o -name "*.png" -o -name "*.webp" \) -size +100k | sort | head -200 |
  while read -r f; do cp "$f" "$DEST/styles/$(basename "$(dirname "$(dirname "$(dirname "$f")")")")-$(basename "$f")"; done
for f in Elephants.jpg Flow.png Silk.png Waves.png Spring.png Gulp.png; do
  cp "x/usr/share/backgrounds/mate/abstract/$f" "$DEST/styles/mate-$f"
done
cd - >/dev/null
"$PY" - "$DEST/photos" <<'PY'
import sys
from PIL import Image
from skimage import data
for name in ("astronaut", "chelsea", "coffee", "rocket"):
    Image.fromarray(getattr(data, name)()[..., :3]).save(f"{sys.argv[1]}/skimage-{name}.png")
PY
echo "photos: $(ls "$DEST/photos" | wc -l)  styles: $(ls "$DEST/styles" | wc -l)  in $DEST"
