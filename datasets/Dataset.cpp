// placeholder: implementation of datasets/Dataset.h
