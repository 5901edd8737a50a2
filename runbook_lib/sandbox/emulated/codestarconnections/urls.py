"""Where requests to the sandbox's CodeStar Connections stand-in arrive (one JSON endpoint)."""

from .responses import CodeStarConnectionsResponse

url_bases = [r"https?://codestar-connections\.(.+)\.amazonaws\.com"]

url_paths = {"{0}/$": CodeStarConnectionsResponse.dispatch}
