from connector_watch.tests.unit.sources.test_partition_suite import SupportsPartitionedStreamTests
from connector_watch.tests.unit.sources.test_suite import LakeflowConnectTests
from connector_watch.tests.unit.sources.test_write_back_suite import LakeflowConnectWriteBackTests

from sources.github.github import GithubLakeflowConnect
from tests.unit.sources.github.github_test_utils import GithubTestUtils


class TestGithubConnector(
    LakeflowConnectWriteBackTests, LakeflowConnectTests, SupportsPartitionedStreamTests
):
    connector_class = GithubLakeflowConnect
    test_utils_class = GithubTestUtils
    simulator_source = "github"
    replay_config = {"token": "stand-in-token", "owner": "octo-org", "repos": "alpha,beta"}
    sample_records = 5
