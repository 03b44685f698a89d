#!/usr/bin/env bash
# The study's figures on the original VGG19, as in the README's "The study, reproduced":
# five `nst sweep` grids of the Tübingen photo in The Starry Night at 192 px, 100 steps a cell over
# two coarse-to-fine levels (the default when they were made),
# each cell captioned with its loss and nst.quality's verdict. About 8 minutes on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/.."
sweep() { name=$1; shift; python -m nst sweep --content ui/images/tubingen.jpg --style ui/images/starry_night.jpg \
    --size 192 --steps 100 --levels 2 --out "docs/study/$name.png" --json "docs/study/$name.json" "$@"; }
sweep ratio --vary log10_ratio=-2,-4,-5,-6 --vary pooling=avg,max
sweep style-layers --vary "style_layers=conv1_1;conv1_1,conv2_1;conv1_1,conv2_1,conv3_1;conv1_1,conv2_1,conv3_1,conv4_1;conv1_1,conv2_1,conv3_1,conv4_1,conv5_1"
sweep pooling-scheduler --vary pooling=max,avg --vary scheduler=none,plateau,step
sweep init --vary init=content,noise,fast --vary steps=0,100
sweep network --vary vgg_weights=original,random
