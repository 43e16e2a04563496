#!/usr/bin/env python3
"""The reference of `walkout bench vision`: the same ONNX model run by
Python's onnxruntime on the input tensors the Rust benchmark wrote, on one
thread (intra_op_num_threads = inter_op_num_threads = 1, sequential, all
graph optimisations, as the Rust session), timing `session.run` alone.

Prints one JSON object: runtime, frames, threads, inference frames per second
per core (by the process's CPU time, as the Rust side measures it), the
median CPU milliseconds per frame, the
total CPU seconds, and frames per second by the wall clock. With
--outputs it also saves the first output of every frame (float32 .npy,
[frames, ...]) so the benchmark can check both runtimes computed the same.

Run by `walkout bench vision` with the interpreter of `.local/venv`
(`make bench-setup` installs onnxruntime and numpy there).
"""

import argparse
import json
import statistics
import sys
import time

import numpy as np
import onnxruntime as ort


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="the .onnx file")
    p.add_argument("--inputs", required=True, help=".npy of [frames, ...]: one input tensor per frame")
    p.add_argument("--input-name", required=True)
    p.add_argument("--dtype", default="int32", choices=["int32", "float32"], help="the model's input type")
    p.add_argument("--outputs", help="save every frame's first output here (.npy)")
    p.add_argument("--warmup", type=int, default=3, help="untimed runs first")
    return p.parse_args(argv)


def single_thread_session(model):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])


def main(argv):
    args = parse_args(argv)
    frames = np.load(args.inputs)
    if frames.ndim < 2 or len(frames) == 0:
        sys.exit(f"{args.inputs}: expected [frames, ...] with at least one frame, got shape {frames.shape}")
    # converted up front: the timing covers inference only
    inputs = [np.ascontiguousarray(f[None].astype(args.dtype)) for f in frames]
    session = single_thread_session(args.model)
    for i in range(args.warmup):
        session.run(None, {args.input_name: inputs[i % len(inputs)]})
    times, walls, outputs = [], [], []
    for x in inputs:
        start, cpu = time.perf_counter(), time.process_time()
        out = session.run(None, {args.input_name: x})
        times.append(time.process_time() - cpu)
        walls.append(time.perf_counter() - start)
        outputs.append(out[0])
    if args.outputs:
        np.save(args.outputs, np.stack(outputs).astype("<f4"))
    total = sum(times)
    print(
        json.dumps(
            {
                "runtime": f"python onnxruntime {ort.__version__}",
                "frames": len(times),
                "intra_op_threads": 1,
                "inference_frames_per_s_per_core": len(times) / total,
                "median_ms_per_frame": statistics.median(times) * 1000.0,
                "cpu_s": total,
                "wall_frames_per_s": len(walls) / sum(walls),
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
