from sources.hubspot.hubspot import HubspotLakeflowConnect
from tests.unit.sources.test_suite import LakeflowConnectTests


class TestHubspotConnector(LakeflowConnectTests):
    connector_class = HubspotLakeflowConnect
    simulator_source = "hubspot"
    replay_config = {"access_token": "stand-in-token"}
    sample_records = 5
