# Short name: tools/dist_train.sh configs/cld/mocov2_cld_r50.py 8
_base_ = './mocov2-cld-normmlp_resnet50_8xb64-coslr-200e_in1k.py'
