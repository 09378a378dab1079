from connector_watch.tests.unit.sources.test_suite import LakeflowConnectTests
from connector_watch.tests.unit.sources.test_write_back_suite import LakeflowConnectWriteBackTests

from sources.hubspot.hubspot import HubspotLakeflowConnect
from tests.unit.sources.hubspot.hubspot_test_utils import HubspotTestUtils


class TestHubspotConnector(LakeflowConnectWriteBackTests, LakeflowConnectTests):
    connector_class = HubspotLakeflowConnect
    test_utils_class = HubspotTestUtils
    simulator_source = "hubspot"
    replay_config = {"access_token": "stand-in-token"}
    sample_records = 5
