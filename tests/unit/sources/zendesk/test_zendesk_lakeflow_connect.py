from connector_watch.tests.unit.sources.test_suite import LakeflowConnectTests
from connector_watch.tests.unit.sources.test_write_back_suite import LakeflowConnectWriteBackTests

from sources.zendesk.zendesk import ZendeskLakeflowConnect
from tests.unit.sources.zendesk.zendesk_test_utils import ZendeskTestUtils


class TestZendeskConnector(LakeflowConnectWriteBackTests, LakeflowConnectTests):
    connector_class = ZendeskLakeflowConnect
    test_utils_class = ZendeskTestUtils
    simulator_source = "zendesk"
    replay_config = {
        "subdomain": "northwind",
        "email": "hana.suzuki@northwind-outfitters.com",
        "api_token": "stand-in-token",
    }
    sample_records = 5
