"""CycleGAN (Zhu et al. 2017): unpaired image-to-image translation.

networks (generators, discriminators) and weights (reading their files), hub (loading from and
saving to the Hugging Face Hub), translate (inference); data, training (losses, one step),
training_state (checkpoints), export (what a run leaves) and trainer (the run, with Accelerate).
"""
