// placeholder: implementation of datasets/Audio.h
