"""Speed measurements: training throughput and force-evaluation latency of the backbones."""
