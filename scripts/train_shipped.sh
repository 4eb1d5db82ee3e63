#!/usr/bin/env bash
# Train the shipped world models from scratch (after scripts/collect_datasets.sh data 2).
# The three are world models v2 (a field decoder drawing the state).
# Usage: scripts/train_shipped.sh [robotics|driving|driving-lanes|driving-held|driving-held-speed|driving-mixed|driving-control|driving-cat|games|games-v1|games-v2|games-view|games-wander|games-prior|games-kinematic|games-true-start|games-held-turn|games-grip|games-speed|games-track|robotics-v2|robotics-latent|robotics-angles|robotics-field|robotics-age|robotics-dynamics-age|robotics-dynamics-state|robotics-redrawn ...]   (default: the three shipped; driving's weights are driving, then driving-lanes)
set -euo pipefail
# The games v2 recipe ("games-v2" below) on DATA into OUT, with extra entries for the --model and
# --loss JSON objects (each "" or starting with a comma); the candidates differ from it only there.
games_v2() {  # data, out, extra model entries, extra loss entries
  worldsim train --domain games --data "$1" --out "$2" --steps 4000 --threads 2 --seed 0 \
    --burn-in 16 --fresh-starts 0.3 --decoder-lr 2e-3 \
    --model "{\"draws_on_previous\": false, \"encoder_coordinates\": true, \"ensemble\": 4, \"decoder\": \"field\", \"decoder_input\": \"state\"$3}" \
    --loss "{\"motion\": 10, \"consistency\": 10, \"foreground\": 10, \"state_forcing\": 1.0, \"imagined_pixels\": 0$4}" --quiet
}
# CarRacing's camera as the games models were trained with it: its geometry for the decoder's cells,
# nothing painted (the shipped weights paint the ground as they dream: derive_checkpoint.py's "paint")
games_camera=$(python -c 'import json; from worldsim.sources.games import camera; print(json.dumps(camera(paint=False)))')
# The text model, its guided scene generator and the reflector trained beside a driving run, and
# the half-width decoder distilled from its decoder; each kept once made.
driving_text_side() {  # run directory
  local run=$1
  [[ -f $run/text.json ]] || worldsim train-text --checkpoint "$run" --data data/driving --out "$run" --threads 2 --seed 0 \
    --guidance 1 --generator-kl 0.05 --reader-all-fields --reader-unclamped --quiet
  # the shipped generator: retrained alone beside that text model, charged for starts the dream ends
  # at its first step (BENCHMARKS.md, "Prompted driving starts the dream ends at once"); seed 2 was
  # the best of seeds 0-5 on the dev prompts (BENCHMARKS.md, "Numbers in prompts")
  [[ -f $run/generator_report.json ]] || { worldsim train-text --checkpoint "$run" --data data/driving --out "$run" \
    --generator-only --threads 1 --guidance 1 --generator-kl 0.05 --reader-all-fields --reader-unclamped \
    --feasibility 1 --feasibility-steps 1 --seed 2 --quiet --json > "$run/generator_report.json.tmp" \
    && mv "$run/generator_report.json.tmp" "$run/generator_report.json"; }
  [[ -f $run/reflect.json ]] || worldsim train-reflect --checkpoint "$run" --data data/driving --steps 2000 --heads 5.0 \
    --seed 0 --quiet
  [[ -f $run/decoder-distilled.json ]] || worldsim distill --checkpoint "$run" --data data/driving --quiet
}
domains=${*:-robotics driving driving-lanes games}
for domain in $domains; do
  case $domain in
    robotics-v2)
      # The v2 candidate (BENCHMARKS.md, "A v2 candidate trained with the levers"; not shipped): 1,000 steps of own-rollout burn-in with the
      # imagined frames scored in pixels, then 3,000 in which the decoder learns from the true state
      # drawn on the dream's own frames (repair) and a dynamics ensemble learns beside it.
      worldsim train --domain robotics --data data/robotics --out runs/robotics-v2 --steps 1000 --threads 1 --seed 0 \
        --burn-in 24 --loss '{"motion": 10, "consistency": 10, "conditioning_noise": 0.02}' --quiet
      worldsim train --domain robotics --data data/robotics --out runs/robotics-v2b --init runs/robotics-v2 --steps 3000 \
        --threads 2 --seed 0 --burn-in 24 --model '{"ensemble": 4}' \
        --loss '{"motion": 10, "consistency": 10, "conditioning_noise": 0.02, "imagined_pixels": 0, "repair": 1}' --quiet
      ;;
    robotics-latent)
      # The latent-only candidate (BENCHMARKS.md, "Drawing from the latent alone"; not shipped): every
      # frame drawn from the latent (no frame inherits the last one's errors), the encoder given pixel
      # coordinates, angles wrapped; fine-tuned from the shipped model.
      worldsim train --domain robotics --data data/robotics --out runs/robotics-latent --init robotics --steps 3000 \
        --threads 2 --seed 0 --burn-in 24 --model '{"draws_on_previous": false, "encoder_coordinates": true, "ensemble": 4}' \
        --loss '{"motion": 10, "consistency": 10}' --quiet
      ;;
    robotics-angles)
      # Angles held as (cos, sin) in the latent (BENCHMARKS.md, "Angles as cosine and sine"), on 1,000
      # episodes of 120 steps (three times the starting poses of data/robotics), fine-tuned from the
      # latent-only candidate above for 2,500 steps; then two equal 2,000-step continuations side by
      # side (one thread each): as before, and with the posterior frames drawn from the true state
      # half of the time (state_forcing). Data: worldsim collect --domain robotics --episodes 1000
      # --max-steps 120 --workers 2 --seed 7000 --out data/robotics-v2
      model='{"draws_on_previous": false, "encoder_coordinates": true, "ensemble": 4, "angle_coding": "cos_sin"}'
      worldsim train --domain robotics --data data/robotics-v2 --out runs/robotics-angles --init runs/robotics-latent \
        --steps 2500 --threads 2 --seed 0 --burn-in 24 --model "$model" --loss '{"motion": 10, "consistency": 10}' --quiet
      worldsim train --domain robotics --data data/robotics-v2 --out runs/robotics-angles-more --init runs/robotics-angles \
        --steps 2000 --threads 1 --seed 0 --burn-in 24 --model "$model" --loss '{"motion": 10, "consistency": 10}' --quiet &
      worldsim train --domain robotics --data data/robotics-v2 --out runs/robotics-forced --init runs/robotics-angles \
        --steps 2000 --threads 1 --seed 0 --burn-in 24 --model "$model" \
        --loss '{"motion": 10, "consistency": 10, "state_forcing": 0.5}' --quiet
      wait
      ;;
    robotics-field)
      # The field decoder (BENCHMARKS.md, "The field decoder in the world model"; not shipped): the
      # candidate above with its decoder replaced by a FiLM field over pixel coordinates (fresh
      # weights at their own learning rate; the rest carries over), pixels weighted by how rare
      # they are at their place, and half of the filtered frames drawn from the true state:
      # 2,750 steps. A branch from its step 2,500 (robotics-field-sharp) drops the imagined
      # frames' pixel loss for 1,500 steps, one thread; robotics-field-soft weighs it 0.3.
      model='{"draws_on_previous": false, "encoder_coordinates": true, "ensemble": 4, "angle_coding": "cos_sin", "decoder": "field"}'
      loss='{"motion": 10, "consistency": 10, "foreground": 10, "state_forcing": 0.5}'
      field() {  # out, steps, then extra arguments
        worldsim train --domain robotics --data data/robotics-v2 --out "$1" --steps "$2" --seed 0 --burn-in 24 \
          --decoder-lr 2e-3 --model "$model" "${@:3}" --quiet
      }
      field runs/robotics-field 2500 --init runs/robotics-angles-more --threads 2 --loss "$loss"
      rm -rf runs/robotics-field-2500 && cp -r runs/robotics-field/checkpoint runs/robotics-field-2500
      field runs/robotics-field 2750 --init runs/robotics-angles-more --threads 2 --loss "$loss" --resume
      field runs/robotics-field-sharp 1500 --init runs/robotics-field-2500 --threads 1 \
        --loss '{"motion": 10, "consistency": 10, "foreground": 10, "state_forcing": 0.5, "imagined_pixels": 0}'
      # Then 1,250 more steps from the 2,750-step model with the imagined frames' pixel loss at 0.3,
      # and 2,000 more after those.
      field runs/robotics-field-soft 1250 --init runs/robotics-field --threads 2 \
        --loss '{"motion": 10, "consistency": 10, "foreground": 10, "state_forcing": 0.5, "imagined_pixels": 0.3}'
      field runs/robotics-field-soft2 2000 --init runs/robotics-field-soft --threads 2 \
        --loss '{"motion": 10, "consistency": 10, "foreground": 10, "state_forcing": 0.5, "imagined_pixels": 0.3}'
      ;;
    robotics)
      # The shipped robotics model (world model v2; BENCHMARKS.md, "A decoder that draws the state"),
      # about 85 min alone on 2 cores: 2,500 steps from scratch with the levers above (field
      # decoder reading the whole latent, imagined frames' pixels at 0.3), then 4,500 steps in which
      # the field decoder reads the physical state alone (decoder_input "state"; its FiLM layer
      # fresh, the rest carried over), drawn from the simulator's true state on real frames
      # (state_forcing 1) and never scored against frames the dream imagined (imagined_pixels 0).
      # Data: scripts/collect_datasets.sh (data/robotics-v2).
      model='{"draws_on_previous": false, "encoder_coordinates": true, "ensemble": 4, "angle_coding": "cos_sin", "decoder": "field"}'
      drawing_state='{"draws_on_previous": false, "encoder_coordinates": true, "ensemble": 4, "angle_coding": "cos_sin", "decoder": "field", "decoder_input": "state"}'
      worldsim train --domain robotics --data data/robotics-v2 --out runs/robotics-base --steps 2500 --threads 2 --seed 0 \
        --burn-in 24 --decoder-lr 2e-3 --model "$model" \
        --loss '{"motion": 10, "consistency": 10, "foreground": 10, "state_forcing": 0.5, "imagined_pixels": 0.3}' --quiet
      worldsim train --domain robotics --data data/robotics-v2 --out runs/robotics --init runs/robotics-base --steps 4500 \
        --threads 2 --seed 0 --burn-in 24 --decoder-lr 2e-3 --model "$drawing_state" \
        --loss '{"motion": 10, "consistency": 10, "foreground": 10, "state_forcing": 1.0, "imagined_pixels": 0}' --quiet
      ;;
    robotics-redrawn)
      # The shipped robotics weights: the model above with its decoder refitted alone on (true state,
      # frame) pairs of data/robotics-v2 (BENCHMARKS.md, "The decoder refitted on the true state"),
      # 5,000 steps, 64 min on 2 cores; every other weight, the text model and its reflector carried
      # over. Refitted from the weights shipped before it (worldsim/weights/robotics at b821918;
      # REFIT_FROM names another source); scripts/ship_weights.sh robotics ships runs/robotics-redrawn.
      python scripts/refit_decoder.py "${REFIT_FROM:-robotics}" --out runs/robotics-redrawn --steps 5000
      ;;
    robotics-age | robotics-dynamics-age)
      # The dream's age as an input of the learned dynamics (BENCHMARKS.md, "The dream's age"): 1,000
      # steps from the shipped model with first_step 0.1 and --fresh-starts 0.3, with dynamics_age 4
      # and without it (the control), side by side on one thread each (about an hour). robotics-age
      # trains the whole model; robotics-dynamics-age the learned dynamics alone (--train-only).
      drawing_state='"draws_on_previous": false, "encoder_coordinates": true, "ensemble": 4, "angle_coding": "cos_sin", "decoder": "field", "decoder_input": "state"'
      loss='{"motion": 10, "consistency": 10, "foreground": 10, "state_forcing": 1.0, "imagined_pixels": 0, "first_step": 0.1}'
      if [ "$domain" = robotics-age ]; then
        only=(--decoder-lr 2e-3) names=(robotics-fs01c robotics-age4)
      else
        only=(--train-only state_delta) names=(robotics-dyn-control robotics-dyn-age4)
      fi
      common=(--domain robotics --data data/robotics-v2 --init robotics --steps 1000 --threads 1 --seed 0 --burn-in 24 --fresh-starts 0.3 --quiet)
      worldsim train "${common[@]}" "${only[@]}" --out "runs/${names[0]}" --model "{$drawing_state}" --loss "$loss" &
      worldsim train "${common[@]}" "${only[@]}" --out "runs/${names[1]}" --model "{$drawing_state, \"dynamics_age\": 4}" --loss "$loss" &
      wait
      ;;
    robotics-dynamics-state)
      # Learned dynamics reading the physical state alone (BENCHMARKS.md, "The dream's age, and
      # dynamics that read the state alone"), fine-tuned alone into the shipped model, without and
      # with the age, side by side on one thread each.
      drawing_state='"draws_on_previous": false, "encoder_coordinates": true, "ensemble": 4, "angle_coding": "cos_sin", "decoder": "field", "decoder_input": "state", "dynamics_reads": "state"'
      loss='{"motion": 10, "consistency": 10, "foreground": 10, "state_forcing": 1.0, "imagined_pixels": 0, "first_step": 0.1}'
      common=(--domain robotics --data data/robotics-v2 --init robotics --steps 1000 --threads 1 --seed 0 --burn-in 24 --fresh-starts 0.3 --train-only state_delta --quiet)
      worldsim train "${common[@]}" --out runs/robotics-dyn-state --model "{$drawing_state}" --loss "$loss" &
      worldsim train "${common[@]}" --out runs/robotics-dyn-state-age4 --model "{$drawing_state, \"dynamics_age\": 4}" --loss "$loss" &
      wait
      ;;
    driving)
      # The shipped driving model (world model v2; BENCHMARKS.md, "Driving: a decoder that draws the
      # state"), one stage from scratch, about 42 min on 2 cores: the field decoder reads the
      # physical state (the ego's position along the road as its phase against the 4.33 m lane-dash
      # period), drawn from the simulator's true state on real frames and never scored against frames
      # the dream imagined; up to 16 steps of the dream's own rollout before the scored horizon
      # (none in 3 batches of 10), a quarter of each batch windows that end in a crash.
      # Data: scripts/collect_datasets.sh (data/driving).
      worldsim train --domain driving --data data/driving --out runs/driving --steps 4000 --threads 2 --seed 0 \
        --burn-in 16 --fresh-starts 0.3 --event-share 0.25 --decoder-lr 2e-3 \
        --model '{"draws_on_previous": false, "encoder_coordinates": true, "ensemble": 4, "decoder": "field", "decoder_input": "state", "decoder_periods": {"ego_x": 4.33}}' \
        --loss '{"motion": 10, "consistency": 10, "foreground": 10, "state_forcing": 1.0, "imagined_pixels": 0}' --quiet
      ;;
    driving-lanes)
      # The shipped driving weights (BENCHMARKS.md, "Driving: the cars kept on their lanes"), from
      # the model above (runs/driving; REFIT_FROM names another source, such as the weights shipped
      # before these, worldsim/weights/driving at 210c6cb, which are that model), about 75 min on 2
      # cores: its decoder refitted alone on true states with highway-env's car boxes (24 min),
      # 1,500 steps more with the cars scored in their best-matching order (35 min), the refitted
      # decoder grafted back (trained jointly it speckles), the dream's states kept on the road's
      # lanes; then the text model, its guided scene generator and the reflector trained beside
      # the result, and the half-width decoder distilled from its decoder. Each finished step is
      # kept: rerun after an interruption and it goes on from the first one missing.
      done_in() { [[ -f "$1/model.safetensors" ]]; }
      # the camera as it was then: the cars' boxes, no lane markings (added by the last two refits)
      done_in runs/driving-boxes || python scripts/refit_decoder.py "${REFIT_FROM:-runs/driving}" --out runs/driving-boxes \
        --data data/driving --test data/eval/driving-probe --steps 4000 \
        --view "$(python -c 'import json; from worldsim.sources.driving import camera; print(json.dumps(camera(lanes=None)))')"
      done_in runs/driving-matched || worldsim train --domain driving --data data/driving --out runs/driving-matched \
        --init runs/driving-boxes --steps 1500 --threads 2 --seed 0 --burn-in 16 --fresh-starts 0.3 --event-share 0.25 \
        --decoder-lr 2e-3 --model '{"matched_slots": true}' \
        --loss '{"motion": 10, "consistency": 10, "foreground": 10, "state_forcing": 1.0, "imagined_pixels": 0}' --quiet
      done_in runs/driving-matched-boxes || python scripts/refit_decoder.py runs/driving-matched --out runs/driving-matched-boxes \
        --steps 0 --decoder-from runs/driving-boxes --data data/driving --test data/eval/driving-probe
      # the lanes as they were when the text side was trained beside them, then the road's lanes as
      # shipped: traffic kept from merging onto the ego and the ego kept in its lane unless it
      # steers (BENCHMARKS.md, "Driving: traffic that does not merge onto the ego" and "Driving:
      # the ego kept in its lane unless it steers"), dreaming options, no weight changed
      done_in runs/driving-matched-lanes || python scripts/derive_checkpoint.py runs/driving-matched-boxes runs/driving-matched-lanes \
        "{\"lanes\": $(python -c 'import json; from worldsim.sources.driving import lanes; print(json.dumps(lanes(merge_gap=None, steering=False)))')}"
      driving_text_side runs/driving-matched-lanes
      done_in runs/driving-road || python scripts/derive_checkpoint.py runs/driving-matched-lanes runs/driving-road '{"lanes": "road"}'
      # the decoder refitted alone twice more (6 min each; BENCHMARKS.md, "Driving: lane markings
      # drawn as highway-env draws them"): given the lane markings' geometry under each cell, then
      # with the markings painted over its frames; then the half-width decoder distilled from it
      done_in runs/driving-road-lines || python scripts/refit_decoder.py runs/driving-road --out runs/driving-road-lines \
        --data data/driving --test data/eval/driving-probe --steps 4000 \
        --view "$(python -c 'import json; from worldsim.sources.driving import camera; print(json.dumps(camera(paint=False)))')"
      done_in runs/driving-road-painted || python scripts/refit_decoder.py runs/driving-road-lines \
        --out runs/driving-road-painted --data data/driving --test data/eval/driving-probe --steps 4000 --view camera
      [[ -f runs/driving-road-painted/decoder-distilled.json ]] || worldsim distill --checkpoint runs/driving-road-painted \
        --data data/driving --quiet
      ;;
    driving-held|driving-held-speed)
      # Candidates (BENCHMARKS.md, "Driving: held actions priced"; not shipped): the shipped model
      # (runs/driving-matched-lanes, driving-lanes above) with its dynamics and its reward and
      # termination heads alone fine-tuned 800 steps on data/$domain, where half the episodes hold
      # one meta-action for 5-30 steps (driving-held: any, the "holder" style; driving-held-speed:
      # IDLE, FASTER or SLOWER, "speed_holder"; their collect commands are in BENCHMARKS.md); the
      # filter and the decoder, and so the latents' meaning, stay as they were. About 14 min on 2 cores.
      [[ -f runs/$domain/model.safetensors ]] || worldsim train --domain driving --data "data/$domain" \
        --out "runs/$domain" --init runs/driving-matched-lanes --steps 800 --threads 2 --seed 0 --burn-in 16 \
        --fresh-starts 0.3 --event-share 0.25 --decoder-lr 2e-3 --model '{"matched_slots": true}' \
        --loss '{"motion": 10, "consistency": 10, "foreground": 10, "state_forcing": 1.0, "imagined_pixels": 0}' \
        --train-only state_delta,dynamics_ensemble,reward_head,termination_head --quiet
      ;;
    driving-mixed)
      # A candidate (BENCHMARKS.md, "Driving: held actions mixed into the whole data"; not shipped
      # unless said there): the fine-tune above on the union of the main recording and both held
      # recordings, half of each batch's windows from data/driving and a quarter from each held set,
      # so the lane changes of the main recording stay in every batch.
      [[ -f runs/$domain/model.safetensors ]] || worldsim train --domain driving \
        --data data/driving,data/driving-held,data/driving-held-speed --data-shares 2,1,1 \
        --out "runs/$domain" --init runs/driving-matched-lanes --steps 800 --threads 2 --seed 0 --burn-in 16 \
        --fresh-starts 0.3 --event-share 0.25 --decoder-lr 2e-3 --model '{"matched_slots": true}' \
        --loss '{"motion": 10, "consistency": 10, "foreground": 10, "state_forcing": 1.0, "imagined_pixels": 0}' \
        --train-only state_delta,dynamics_ensemble,reward_head,termination_head --quiet
      ;;
    driving-control)
      # The control for the three candidates above: the same 800-step fine-tune on data/driving
      # alone, no held actions; what fine-tuning the dynamics and heads does by itself.
      [[ -f runs/$domain/model.safetensors ]] || worldsim train --domain driving --data data/driving \
        --out "runs/$domain" --init runs/driving-matched-lanes --steps 800 --threads 2 --seed 0 --burn-in 16 \
        --fresh-starts 0.3 --event-share 0.25 --decoder-lr 2e-3 --model '{"matched_slots": true}' \
        --loss '{"motion": 10, "consistency": 10, "foreground": 10, "state_forcing": 1.0, "imagined_pixels": 0}' \
        --train-only state_delta,dynamics_ensemble,reward_head,termination_head --quiet
      ;;
    driving-cat)
      # The shipped driving recipe with categorical latents (32 variables of 16 classes, free nats
      # and KL balancing as in every run) feeding the state dynamics, so that a dream may pick one
      # lane where the Gaussian latent averages two (BENCHMARKS.md, "Driving: a decoder that draws
      # the state"). A candidate, not shipped; the same command resumes a stopped run.
      worldsim train --domain driving --data data/driving --out runs/driving-cat --steps 4000 --threads 2 --seed 0 \
        $([ -e runs/driving-cat/checkpoint ] && echo --resume) \
        --burn-in 16 --fresh-starts 0.3 --event-share 0.25 --decoder-lr 2e-3 \
        --model '{"draws_on_previous": false, "encoder_coordinates": true, "ensemble": 4, "decoder": "field", "decoder_input": "state", "decoder_periods": {"ego_x": 4.33}, "stoch_dim": 32, "stoch_classes": 16}' \
        --loss '{"motion": 10, "consistency": 10, "foreground": 10, "state_forcing": 1.0, "imagined_pixels": 0}' --quiet
      ;;
    games)
      # The shipped games model (BENCHMARKS.md, "Games: a track no wheel bends"): games-speed's
      # weights (below; 75 min on 2 cores), dreaming with the track coming into view laid by the car
      # prior's fitted process, which no action steers ("prior_noise", an option of imagination
      # alone). Agents trained in it drive the real track; games-track, trained with that option,
      # trains worse drivers. Data: scripts/collect_datasets.sh (data/games-wander).
      [[ -f runs/games-speed/model.safetensors ]] || "$0" games-speed
      # The ground (field, grass squares, road) painted over its frames as CarRacing draws them
      # (BENCHMARKS.md, "Games: the ground painted"), and what only the frame shows, the tiles'
      # shades, which tiles were touched and which carry kerbs, the printed score, the wheels' spin
      # and the dashboard's bars, carried in the state by the car prior and painted too ("Games:
      # what only the frame shows", "Games: kerbs, touched tiles and the dashboard"); the weights
      # as they are, given zero columns for the carried fields (worldsim.model.carried_fields), the
      # start bank's values of them read from the recording of its episodes.
      # What the camera paints is fitted to the frame a dream starts from ("frame_fit"; anchor 2 is
      # road+0, the car's place on the line; the wheels' spin rates read off the dashboard's bars;
      # BENCHMARKS.md, "Games: the start fitted to its frame"), the start bank's fits stored with it.
      # The carried fields are standardised by their size in a recording (the score and the wheels'
      # spin rates would otherwise dominate an agent's latent observations; "Games: the carried
      # fields scaled for agents").
      rm -rf runs/games
      fit='{"anchor": 2, "bars": ["wheel0_omega", "wheel1_omega", "wheel2_omega", "wheel3_omega"]}'
      python scripts/derive_checkpoint.py runs/games-speed runs/games \
        "{\"prior_noise\": true, \"carry\": \"paint\", \"paint\": \"camera\", \"frame_fit\": $fit}" --carry-from data/games-wander \
        --scale-carried data/games-scale
      ;;
    games-v2)
      # The games model shipped before (world model v2; BENCHMARKS.md, "Games: drawing the road from
      # the state"), one stage from scratch on 2 cores: driving's recipe, with the state holding the
      # track's centre line around the car and the grass squares' phases (worldsim.sources.games),
      # so that the field decoder, reading the state alone, can draw the road where the track goes.
      # No event share: CarRacing ends an episode only when the car leaves the playfield.
      # Data: scripts/collect_datasets.sh (data/games).
      games_v2 data/games runs/games-v2 '' ''
      ;;
    games-wander)
      # A candidate (BENCHMARKS.md, "Games: the grass drawn, and wandering data"; not shipped): the
      # shipped recipe with the decoder's cells given what CarRacing's camera puts under them
      # ("decoder_view": "camera", worldsim.model.ego_view: the grass pattern's phase, the distance
      # to the road), on data with a fifth of the episodes driven off the track (data/games-wander).
      games_v2 data/games-wander runs/games-wander ', "decoder_view": '"$games_camera"'' ''
      ;;
    games-prior)
      # The games candidate with its dynamics correcting the car prior (BENCHMARKS.md, "Games: why
      # the dream does not turn"): games-wander with "dynamics": "prior", so the heading integrates
      # the yaw rate and the road turns with the car before the learned correction.
      games_v2 data/games-wander runs/games-prior ', "decoder_view": '"$games_camera"', "dynamics": "prior"' ''
      ;;
    games-kinematic)
      # games-prior with "dynamics": "kinematic": the car's position, heading, grass phases and the
      # road samples near it are the prior's alone (the heading is the yaw rate integrated, the road
      # turns and slides with the car); the learned step corrects the rest.
      games_v2 data/games-wander runs/games-kinematic ', "decoder_view": '"$games_camera"', "dynamics": "kinematic"' ''
      ;;
    games-true-start)
      # games-kinematic with every training dream started from the simulator's true state
      # ("true_start": 1.0), so that no action is evidence of what a filtered state missed.
      games_v2 data/games-wander runs/games-true-start ', "decoder_view": '"$games_camera"', "dynamics": "kinematic"' ', "true_start": 1.0'
      ;;
    games-held-turn)
      # games-true-start with the wheels' angle and the yaw rate the prior's too: with them free,
      # the learned step overshot the turn (BENCHMARKS.md, "Games: the road slides along its line").
      games_v2 data/games-wander runs/games-held-turn \
        ', "decoder_view": '"$games_camera"', "dynamics": "kinematic", "kinematic_fields": ["steering", "angular_velocity"]' ', "true_start": 1.0'
      ;;
    games-grip)
      # games-held-turn under the refitted car prior: the yaw rate's faster lag and grip limit, the
      # road samples kept evenly spaced, the farthest one kept on the line (BENCHMARKS.md, "Games:
      # a refitted car prior").
      games_v2 data/games-wander runs/games-grip \
        ', "decoder_view": '"$games_camera"', "dynamics": "kinematic", "kinematic_fields": ["steering", "angular_velocity"]' ', "true_start": 1.0'
      ;;
    games-speed)
      # games-grip with the refitted speed (the engine fading towards its top speed, the wheels
      # spinning on the grass) held by the prior too (BENCHMARKS.md, "Games: a refitted car prior").
      games_v2 data/games-wander runs/games-speed \
        ', "decoder_view": '"$games_camera"', "dynamics": "kinematic", "kinematic_fields": ["steering", "angular_velocity", "speed"]' ', "true_start": 1.0'
      ;;
    games-track)
      # games-speed with the track coming into view laid by the car prior's fitted process, which no
      # action steers (prior_noise), and the car drawn by a static layer (decoder_static;
      # BENCHMARKS.md, "Games: a track no wheel bends").
      games_v2 data/games-wander runs/games-track \
        ', "decoder_view": '"$games_camera"', "decoder_static": true, "dynamics": "kinematic", "kinematic_fields": ["steering", "angular_velocity", "speed"], "prior_noise": true' \
        ', "true_start": 1.0'
      ;;
    games-view)
      # The games candidate's first lever alone (BENCHMARKS.md, "Games: the grass drawn, and
      # wandering data"): the shipped recipe and data with the camera's view in the decoder.
      games_v2 data/games runs/games-view ', "decoder_view": '"$games_camera"'' ''
      ;;
    games-v1)
      # The first release's games recipe (format 2), for comparison; on today's data its state holds
      # the road too, while the first release's held 7 fields.
      worldsim train --domain games --data data/games --out runs/games-v1 --steps 2000 --threads 1 --seed 0 --quiet
      ;;
    *)
      echo "unknown domain $domain" >&2
      exit 2
      ;;
  esac
done
