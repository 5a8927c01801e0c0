"""The agent's config: a dataset asset held in the node's own files needs a path and a privacy budget; bundled
catalog sets are only sliced; relative data paths are the config file's; a SuperNode's ClientApp runs in a thread of
it unless ``[flower] worker = "process"``."""

import pytest

from opendpg.agent.config import load_agent_config
from opendpg.errors import ConfigError

BASE = '''name = "h"
state_dir = "state"
[chain]
rpc_url = "http://127.0.0.1:8545"
deployment_file = "deployment.json"
'''


def _load(tmp_path, data):
    path = tmp_path / "agent.toml"
    path.write_text(BASE + data)
    return load_agent_config(path)


def test_held_assets_and_simulated_slices(tmp_path):
    config = _load(tmp_path, '''
[data.7]
path = "records"
privacy_budget = 8.0
requires_dp = true
[data."sklearn/digits"]
share_index = 1
share_count = 3
''')

    assert config.assets[7].path == tmp_path / "records" and config.assets[7].budget == 8.0
    assert config.catalog == ["sklearn/digits"]
    profile = config.profile()
    assert profile.assets == frozenset({7}) and profile.datasets == frozenset({"sklearn/digits"})


@pytest.mark.parametrize(("data", "message"), [
    ("[data.7]\nprivacy_budget = 1.0\n", "needs path"),
    ('[data.7]\npath = "r"\n', "set privacy_budget"),
    ('[data.7]\npath = "r"\nprivacy_budget = 0\nrequires_dp = true\n', "can take no job"),
    ('[data."hospital/xrays"]\nshare_index = 0\n', "neither a dataset asset id nor a bundled catalog id"),
    ('[data."sklearn/digits"]\npath = "r"\n', "sliced"),
])
def test_bad_data_sections_name_the_fix(tmp_path, data, message):
    with pytest.raises(ConfigError, match=message):
        _load(tmp_path, data)


def test_the_clientapp_runs_inside_the_supernode_unless_a_worker_process_is_asked_for(tmp_path):
    assert _load(tmp_path, "").flower.worker == "thread"
    assert _load(tmp_path, '[flower]\nworker = "process"\n').flower.worker == "process"
    with pytest.raises(ConfigError, match="worker"):
        _load(tmp_path, '[flower]\nworker = "fork"\n')
