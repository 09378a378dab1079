from sources.github.github import GithubLakeflowConnect
from tests.unit.sources.test_partition_suite import SupportsPartitionedStreamTests
from tests.unit.sources.test_suite import LakeflowConnectTests


class TestGithubConnector(LakeflowConnectTests, SupportsPartitionedStreamTests):
    connector_class = GithubLakeflowConnect
    simulator_source = "github"
    replay_config = {"token": "stand-in-token", "owner": "octo-org", "repos": "alpha,beta"}
    sample_records = 5
