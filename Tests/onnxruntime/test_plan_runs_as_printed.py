"""The plan says what runs: for every step of the shipped networks, the algorithm that
`sharesc compile --emit plan --format json` prints is the one `sharesc bench --profile --format json`
timed it running by (both name each step the same way), and resnet-50's stride-1 3x3s run by Winograd."""
import json

import pytest

SPECS = ["Architectures/imagenet/resnet-50.yaml", "Architectures/cifar/sharesnet-164.yaml",
         "Architectures/cifar/sharewrn-40-4.yaml"]


def steps(document: str) -> list[tuple[str, str, str, int]]:
    return [(step["name"], step["algorithm"], step["split"], step["pieces"]) for step in json.loads(document)["steps"]]


@pytest.mark.parametrize("spec", SPECS)
def test_profile_runs_the_planned_algorithms(sharesc, spec):
    planned = steps(sharesc.run("compile", spec, "--emit", "plan", "--format", "json", "--threads", "2"))
    profiled = steps(sharesc.run("bench", spec, "--threads", "2", "--runs", "1", "--warmup", "0", "--profile",
                                 "--format", "json"))
    assert profiled == planned
    # A plan file holds the same plan, and runs it.
    plan = sharesc.workdir / (spec.split("/")[-1] + ".plan")
    sharesc.run("compile", spec, "--threads", "2", "--seed", "1", "-o", str(plan))
    assert steps(sharesc.run("bench", str(plan), "--runs", "1", "--warmup", "0", "--profile", "--format", "json")) == planned


def test_resnet50_runs_its_3x3s_by_winograd(sharesc):
    planned = steps(sharesc.run("compile", SPECS[0], "--emit", "plan", "--format", "json", "--threads", "2"))
    by_name = {name: algorithm for name, algorithm, _, _ in planned}
    assert by_name["stage1.block1.conv2+bn2+relu2"] == "winograd-f4x4"
    assert by_name["stage3.block2.conv2+bn2+relu2"] == "winograd-f2x2"  # 9 MiB by F(4x4, 3x3), untied
    assert by_name["stage4.block2.conv2+bn2+relu2"] == "winograd-f2x2"  # 16 MiB
    assert by_name["stage4.block1.conv2+bn2+relu2"] == "igemm"  # stride 2
    assert by_name["stage1.block1.conv1+bn1+relu1"] == "gemm-1x1"
    assert sum(algorithm.startswith("winograd") for _, algorithm, _, _ in planned) == 13  # every stride-1 3x3
