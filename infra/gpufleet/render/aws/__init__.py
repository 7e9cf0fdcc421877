"""AWS side of a fleet: network, EKS cluster, fabrics, storage tiers and node pools."""
