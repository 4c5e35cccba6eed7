// placeholder: implementation of datasets/Key.h
