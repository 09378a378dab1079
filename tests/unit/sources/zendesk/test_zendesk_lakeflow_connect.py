from sources.zendesk.zendesk import ZendeskLakeflowConnect
from tests.unit.sources.test_suite import LakeflowConnectTests


class TestZendeskConnector(LakeflowConnectTests):
    connector_class = ZendeskLakeflowConnect
    simulator_source = "zendesk"
    replay_config = {
        "subdomain": "northwind",
        "email": "hana.suzuki@northwind-outfitters.com",
        "api_token": "stand-in-token",
    }
    sample_records = 5
