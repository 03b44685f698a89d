"""Train a CycleGAN (Zhu et al. 2017) and push its generators to the Hugging Face Hub.

    python train/cyclegan.py --dataset path/to/monet2photo --output-dir outputs/monet2photo
    accelerate launch train/cyclegan.py --dataset huggan/monet2photo --push-to-hub --hub-repo-id you/monet2photo

The run itself is the library's nst.cyclegan.trainer (also installed as `nst-train-cyclegan`);
`--help` lists every option. A killed run continues with `--resume latest`.
"""

import sys

from nst.cyclegan.trainer import cli

if __name__ == "__main__":
    sys.exit(cli())
