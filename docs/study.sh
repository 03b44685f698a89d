#!/usr/bin/env bash
# The study's figures on the original VGG19 (docs/study.md): `nst sweep` grids of the Tübingen photo
# in The Starry Night at 256 px with the defaults (relative loss units, 60 steps a cell), each cell
# captioned with its loss and nst.quality's verdict. About 7 minutes on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/.."
sweep() { name=$1; shift; python -m nst sweep --content ui/images/tubingen.jpg --style ui/images/starry_night.jpg \
    --size 256 --steps 60 --out "docs/study/$name.png" --json "docs/study/$name.json" "$@"; }
sweep ratio --vary log10_ratio=1,0,-1,-2,-3 --vary pooling=avg,max
sweep style-layers --vary "style_layers=conv1_1;conv1_1,conv2_1;conv1_1,conv2_1,conv3_1;conv1_1,conv2_1,conv3_1,conv4_1;conv1_1,conv2_1,conv3_1,conv4_1,conv5_1"
sweep pooling-scheduler --vary pooling=max,avg --vary scheduler=none,plateau,step
sweep init --vary init=content,noise,fast --vary steps=0,60
sweep network --vary vgg_weights=original,random
sweep loss-units --vary loss_units=relative,paper --vary log10_ratio=-1,-5
sweep style-statistic --vary style_statistic=gram,mean-cov
sweep iterate-average --vary iterate_average=0,0.9
