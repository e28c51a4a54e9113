"""Running LLM judges: prompts, strict verdict parsing, calls, runs, debate, lexical judges.

Pure engine (no Streamlit, no database): a storage-layer job runner builds the requests from
its tables, runs them with :func:`core.judges.runner.run_calls` and writes the results the
callback hands it. Importing this package imports nothing; import the modules:

``prompting``  :class:`~core.judges.prompting.PromptTemplate` (system, user, strategy) and the
               shipped ones (:func:`~core.judges.prompting.builtin_prompt`, registry
               ``STRATEGIES``: direct, rationale, rubric; each optionally reference-guided);
               :func:`~core.judges.prompting.compile_prompt` validates a (user-edited) template
               against a task schema, ``CompiledPrompt.render`` /
               :func:`~core.judges.prompting.render_messages` give the chat messages (with
               image fields: ``image_url`` parts from the
               :class:`~core.judges.prompting.JudgeImage` values the caller passes).
``verdicts``   :func:`~core.judges.verdicts.parse_verdict` (strict: JSON or a last
               ``Verdict: LABEL`` line, labels only through ``Dimension.normalize``; a ranking
               only as a permutation of the item's responses) and the ``response_format``
               JSON schema builder.
``endpoints``  :class:`~core.judges.endpoints.Endpoint` (URL, model, key *variable name*,
               sampling, timeout, prices) and :func:`~core.judges.endpoints.api_key_from_env`.
``retry``      :class:`~core.judges.retry.RetryPolicy` and ``Retry-After`` parsing.
``client``     :class:`~core.judges.client.JudgeClient` (one endpoint; ``call`` a
               :class:`~core.judges.client.JudgeRequest` -> :class:`~core.judges.client.CallResult`;
               ``complete`` raw messages -> :class:`~core.judges.client.Completion`).
``runner``     :func:`~core.judges.runner.run_calls` (bounded concurrency, results streamed,
               cancel) and :class:`~core.judges.runner.Progress`.
``debate``     :func:`~core.judges.debate.run_debate` over an injected call function.
``lexical``    offline ``exact_match`` / ``contains`` judges (registry ``LEXICAL_JUDGES``).

A job runner, in outline::

    prompt = compile_prompt(template, schema)             # PromptError: show it, stop
    requests = (JudgeRequest((item_id, dim.name, k), prompt, fields, dim, reference=ref, sample=k)
                for item_id, fields, ref in missing_items for dim in dims for k in range(samples))
    async with JudgeClient(endpoint, api_key=api_key_from_env(endpoint, secrets)) as client:
        progress = await run_calls(requests, call=client.call, concurrency=16, cost=endpoint.cost,
                                   on_result=write_in_batches, cancel_event=cancel)

``on_result(result, progress)`` gets every finished call: ``result.verdict`` set (store it:
label or unparseable, with ``raw_text``, ``model``, tokens, ``latency``); ``result.error`` set
(the call failed: store nothing, a rerun retries it); ``result.cancelled`` (store nothing).
The answer format the endpoint accepts (``client.output_mode``) is learnt per client.
"""
