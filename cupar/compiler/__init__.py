"""Source -> IR -> passes -> typed (later: fused, kernel) IR. Pure: imports nothing from
cupar.runtime, touches no device."""
