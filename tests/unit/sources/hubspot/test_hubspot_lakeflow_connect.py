from sources.hubspot.hubspot import HubspotLakeflowConnect
from tests.unit.sources.hubspot.hubspot_test_utils import HubspotTestUtils
from tests.unit.sources.test_suite import LakeflowConnectTests
from tests.unit.sources.test_write_back_suite import LakeflowConnectWriteBackTests


class TestHubspotConnector(LakeflowConnectWriteBackTests, LakeflowConnectTests):
    connector_class = HubspotLakeflowConnect
    test_utils_class = HubspotTestUtils
    simulator_source = "hubspot"
    replay_config = {"access_token": "stand-in-token"}
    sample_records = 5
