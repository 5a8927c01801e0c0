"""scripts/deploy.py: the brownie deployment writes the same deployment-file format as `opendpg deploy`."""

import json

from deploy import SuiteParams, write_deployment


def test_write_deployment(suite, tmp_path):
    path = tmp_path / "deployment.json"

    write_deployment(suite, SuiteParams(), path)

    document = json.loads(path.read_text())
    assert document["format"] == "opendpg-deployment/1"
    assert set(document["contracts"]) == {"CommonsToken", "OpenDPGTimelock", "OpenDPGGovernor", "NodeRegistry",
                                          "JobMarket", "DPGRegistry", "ReviewRewards", "JobDisputes", "DataLedger"}
    for name, contract in suite.items():
        assert document["contracts"][name]["address"] == contract.address
        assert any(item.get("name") == "hasRole" or item["type"] == "constructor"
                   for item in document["contracts"][name]["abi"])
    assert document["start_block"] <= min(c.tx.block_number for c in suite.values())
    assert document["params"]["min_stake"] == 100 * 10**18
