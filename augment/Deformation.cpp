// augment/ will hold the deterministic deformations (pitch shift and time stretch through Rubber
// Band, EQ, noise, gain, chains) of the augmentation issue. Nothing is implemented yet; this file
// only keeps the library target, so the folder layout and link order are fixed from the start.
