"""The GPU a node registers and takes jobs by comes from the machine (nvidia-smi), never from more than it has."""

import pytest

from opendpg.errors import ConfigError
from opendpg.node.config import NodeSection
from opendpg.node.hardware import Gpu, detect_gpu, parse_nvidia_smi

# what `nvidia-smi --query-gpu=name,memory.total --format=csv,noheader,nounits` prints on a two-GPU machine
TWO_GPUS = "NVIDIA H100 80GB HBM3, 81559\nNVIDIA H100 80GB HBM3, 81559\n"


def test_the_drivers_report_is_read_per_gpu():
    assert parse_nvidia_smi(TWO_GPUS) == Gpu(model="NVIDIA H100 80GB HBM3", memory_mib=81559, count=2)
    assert parse_nvidia_smi("") is None
    assert parse_nvidia_smi("No devices were found\n") is None


@pytest.mark.skipif(detect_gpu() is not None, reason="this machine has a GPU")
def test_a_machine_without_a_gpu_offers_none_and_may_not_claim_one():
    # Execute + Assert: the defaults read the machine; a claim beyond it names the field and the fix
    assert NodeSection().gpu() == ("CPU", 0)
    assert NodeSection(gpu_memory_mib=0).gpu() == ("CPU", 0)
    with pytest.raises(ConfigError, match=r"node\.gpu_memory_mib: 24000 MiB, but this machine's GPU \(CPU\) has 0 MiB"):
        NodeSection(gpu_memory_mib=24000).gpu()
    with pytest.raises(ConfigError, match=r"node\.gpu_model: 'RTX 4090', but this machine reports no GPU"):
        NodeSection(gpu_model="RTX 4090").gpu()


@pytest.mark.skipif(detect_gpu() is None, reason="no GPU on this machine")
def test_a_machine_with_a_gpu_offers_it_or_part_of_it():
    gpu = detect_gpu()
    assert gpu is not None and NodeSection().gpu() == (gpu.model, gpu.memory_mib)
    assert NodeSection(gpu_memory_mib=gpu.memory_mib // 2).gpu() == (gpu.model, gpu.memory_mib // 2)
    with pytest.raises(ConfigError, match=r"node\.gpu_memory_mib"):
        NodeSection(gpu_memory_mib=gpu.memory_mib + 1).gpu()
