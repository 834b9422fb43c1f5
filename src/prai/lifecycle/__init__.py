"""Model and adapter lifecycle (seed §15): versions, aliases, promote with canary, rollback.

Modules: :mod:`registry` (versions keyed by bundle root digest and the alias table, in
the gateway's database), :mod:`engine_ops` (load/unload adapters on running vLLM
replicas, drain), :mod:`promote` (the orchestration behind `prai model promote` and
`rollback`), :mod:`gates` (eval and bench gates).
"""
