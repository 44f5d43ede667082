// ProGAN module.
