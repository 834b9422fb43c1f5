"""The one-machine kitchen: `prai demo` and `prai up`, and the demo's steps.

One job: run the whole chain on one machine with the same engine (vLLM's CPU build) —
build or find the demo model, bring it in (:mod:`prai.kitchen.bring_in`), serve it, taste
it (:func:`prai.doctor.taste.taste_test`), run the doctor (:mod:`prai.kitchen.doctor_step`),
go through the gateway with guardrails (:mod:`prai.kitchen.demo_gateway`), promote and roll
back (:mod:`prai.kitchen.demo_lifecycle`), bench and eval (:mod:`prai.kitchen.quality`).
This package imports the capabilities; nothing imports it but :mod:`prai.cli`.
"""
