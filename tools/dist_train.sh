#!/usr/bin/env bash
# Multi-process training with torchrun (python -m torch.distributed.run).
#   tools/dist_train.sh CONFIG GPUS [train.py args]
# GPUS is the number of processes on this node (one per GPU). Multi-node:
# set NNODES, NODE_RANK, MASTER_ADDR and PORT on every node. Without GPUs the
# processes use the gloo backend on CPU (tools/train.py switches it).
# PYTHON selects the interpreter (default: python on PATH).
CONFIG=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
PYTHON=${PYTHON:-python}
DIR=$(cd "$(dirname "$0")" && pwd)

PYTHONPATH="$DIR/..":$PYTHONPATH \
"$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" \
    --master_port="$PORT" \
    "$DIR/train.py" \
    "$CONFIG" \
    --launcher pytorch "${@:3}"
