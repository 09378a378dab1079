from connector_watch.tests.unit.sources.test_suite import LakeflowConnectTests

from sources.msgraph.msgraph import MsgraphLakeflowConnect


class TestMsgraphConnector(LakeflowConnectTests):
    connector_class = MsgraphLakeflowConnect
    simulator_source = "msgraph"
    replay_config = {
        "tenant_id": "4a3f1c9e-7b2d-4e8f-9c61-2d5a8b0e3f47",
        "client_id": "stand-in-client-id",
        "client_secret": "stand-in-client-secret",
    }
    sample_records = 5
