#!/bin/bash
# The SmolLM2-135M-Instruct OSD experiments behind traces/smollm2-*.jsonl and the README's real-run
# section (about 3.5 hours on the 2-core development VM). Each step skips what already exists, so
# a killed script continues where it stopped (osdsim run --resume finishes a half-written trace).
#   bash analysis/smollm2_osd.sh [step ...]
#   steps: drafts online frozen offline gammas online-g2 languages sizes   (64 tokens a record)
#          long frozen-eos offline-eos long-gammas long-math long-g2 sizes-g2 offline-g2
#          (replies end at <|im_end|>)
# The first steps' traces were recorded before osdsim ended replies at the target's end-of-sequence
# token: every record ran to 64 new tokens (--ignore-eos reproduces that), so a short SQL answer was
# followed by the model inventing further chat turns. The later steps end each reply where a
# serving engine would, and the offline draft of offline-eos learns from the replies only.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_WAIT_POLICY=ACTIVE  # one job at a time on a quiet machine: spinning threads are faster
OSD=".venv/bin/osdsim"
D=".cache/osdsim/smollm2-drafts"
BASE=(--target smollm2-135m --threads 2 --no-progress)
COMMON=("${BASE[@]}" --gamma 3 --ignore-eos)   # the fixed-length steps
EOS=("${BASE[@]}" --gamma 3)
STREAM="sql-q:100,math-q:100,humaneval:100"
LONG="sql-q:200,math-q:200,humaneval:164"
SHORT="sql-q:50,math-q:50,humaneval:50"   # a static draft's alpha does not drift: half the records
ONLINE=(--online --update-interval 4 --lr 5e-4 --positions all)
mkdir -p "$D"

run() {  # run OUT ARGS...: a trace, resumed when it is there
  local out=$1; shift
  if [ -s "$out" ]; then "$OSD" run "$@" --out "$out" --resume; else "$OSD" run "$@" --out "$out"; fi
}
draft() {  # draft L: the generic draft of L layers, distilled on 150k tokens of ShareGPT text
  [ -f "$D/text-l$1/config.json" ] || "$OSD" distill --target smollm2-135m --draft "layers:$1" --domains '' \
    --text-tokens 150000 --text-lr 1e-3 --threads 2 --no-progress --out "$D/text-l$1"
}
offline_eos_draft() {  # the generic 2-layer draft distilled on the target's replies to held-out sql-q and math-q questions
  draft 2
  [ -f "$D/offline-eos-l2/config.json" ] || "$OSD" distill --target smollm2-135m --draft "$D/text-l2" \
    --domains sql-q,math-q --prompts-per-domain 60 --epochs 2 --lr 5e-4 --threads 2 --no-progress \
    --out "$D/offline-eos-l2"
}
step() { [ $# -eq 0 ] || [[ " $* " == *" $STEP "* ]]; }

for STEP in drafts online frozen offline gammas online-g2 languages sizes long frozen-eos offline-eos long-gammas long-math long-g2 sizes-g2 \
            offline-g2; do
  step "${@}" || continue
  case $STEP in
    drafts) draft 2 ;;
    online) [ -s traces/smollm2-osd-cpu.jsonl ] && [ -d "$D/online-l2" ] || \
              run traces/smollm2-osd-cpu.jsonl "${COMMON[@]}" --draft "$D/text-l2" --schedule "$STREAM" \
                "${ONLINE[@]}" --baseline --save-draft "$D/online-l2" ;;
    frozen) run traces/smollm2-frozen-cpu.jsonl "${COMMON[@]}" --draft "$D/text-l2" --schedule "$SHORT" ;;
    # offline: the domains known in advance (fresh questions of the generators); HumanEval's 164
    # problems cannot be split from the stream's, so the offline draft never sees that domain.
    offline) [ -f "$D/offline-l2/config.json" ] || "$OSD" distill --target smollm2-135m --draft "$D/text-l2" \
               --domains sql-q,math-q --prompts-per-domain 60 --epochs 2 --lr 5e-4 --threads 2 \
               --no-progress --out "$D/offline-l2"
             run traces/smollm2-offline-cpu.jsonl "${COMMON[@]}" --draft "$D/offline-l2" --schedule "$SHORT" ;;
    # gammas: the adapted draft (frozen now) on fresh questions of the first two domains (seed 3),
    # each record also decoded plainly: the speedup after adaptation at gamma 2, 3 and 4
    gammas) for G in 2 3 4; do
              run "traces/smollm2-adapted-g$G-cpu.jsonl" "${BASE[@]}" --ignore-eos \
                --draft "$D/online-l2" --schedule sql-q:8,math-q:8 --seed 3 --gamma "$G" --baseline
            done ;;
    # online-g2: verifying 3 tokens costs ~1.2 plain steps on this CPU, 4 tokens ~1.6 (see
    # analysis/smollm2_speedup.py): gamma 2 is the better choice here; adapt on sql-q at gamma 2
    online-g2) run traces/smollm2-osd-g2-cpu.jsonl "${BASE[@]}" --ignore-eos --gamma 2 --draft "$D/text-l2" \
                 --schedule sql-q:48 "${ONLINE[@]}" --baseline ;;
    sizes) draft 1; draft 4 ;;
    # long: the paper's online settings (AdamW lr 1e-4, I = 8: Liu et al., arXiv 2310.07177, their
    # online scripts) on blocks of 200 records (HumanEval has 164 problems), no baselines: the
    # first-50 -> last-50 gain of a block needs a block longer than the learning time
    long) [ -s traces/smollm2-osd-long-cpu.jsonl ] && [ -d "$D/online-long-l2" ] || \
            run traces/smollm2-osd-long-cpu.jsonl "${EOS[@]}" --draft "$D/text-l2" \
              --schedule "$LONG" --online --update-interval 8 --lr 1e-4 --positions all \
              --save-draft "$D/online-long-l2" ;;
    # the static drafts on the first 50 records of each of those blocks (the same prompts)
    frozen-eos) run traces/smollm2-frozen-eos-cpu.jsonl "${EOS[@]}" --draft "$D/text-l2" --schedule "$SHORT" ;;
    offline-eos) offline_eos_draft
                 run traces/smollm2-offline-eos-cpu.jsonl "${EOS[@]}" --draft "$D/offline-eos-l2" --schedule "$SHORT" ;;
    # long-gammas: that adapted draft on fresh questions (seed 3), each record also decoded plainly
    long-gammas) for G in 2 3; do
                   run "traces/smollm2-long-adapted-g$G-cpu.jsonl" "${BASE[@]}" --draft "$D/online-long-l2" \
                     --schedule sql-q:12,math-q:12 --seed 3 --gamma "$G" --baseline
                 done ;;
    # long-math: arithmetic was still learning at the end of its 200 records; one block of 400
    # (the same first 200 prompts), from the generic draft, the paper's settings
    long-math) run traces/smollm2-osd-math400-cpu.jsonl "${EOS[@]}" --draft "$D/text-l2" --schedule math-q:400 \
                 --online --update-interval 8 --lr 1e-4 --positions all ;;
    # long-g2: the speedup while adapting: 200 SQL questions at gamma 2 (the better gamma on this
    # CPU), the paper's settings, each record also decoded plainly
    long-g2) run traces/smollm2-osd-sql-g2-cpu.jsonl "${BASE[@]}" --gamma 2 --draft "$D/text-l2" --schedule sql-q:200 \
               --online --update-interval 8 --lr 1e-4 --positions all --baseline ;;
    # sizes-g2: the 1- and 4-layer generic drafts through the same run (which size pays best)
    sizes-g2) for L in 1 4; do
                run "traces/smollm2-osd-sql-g2-l$L-cpu.jsonl" "${BASE[@]}" --gamma 2 --draft "$D/text-l$L" \
                  --schedule sql-q:200 --online --update-interval 8 --lr 1e-4 --positions all --baseline
              done ;;
    # offline-g2: the OSD paper's full recipe, offline distillation before serving and online after:
    # the offline-eos draft adapting online on 400 SQL questions at gamma 2 (the first 200 are
    # long-g2's), each record also decoded plainly; then the same draft kept frozen on the first
    # 100 of those questions (what offline distillation alone buys), and the adapted draft on fresh
    # questions at three gammas
    offline-g2) offline_eos_draft
                T=traces/smollm2-osd-sql400-offline-g2-cpu.jsonl
                if [ -s "$T" ] && [ ! -d "$D/online-sql400-l2" ] && [ ! -f "$T.draft.pt" ]; then
                  # a checkout has the trace but not the adapted draft (never committed): rerun from scratch
                  echo "offline-g2: $T is here but its adapted draft is not; move the trace away to rerun" >&2
                  continue
                fi
                run "$T" "${BASE[@]}" --gamma 2 --draft "$D/offline-eos-l2" \
                  --schedule sql-q:400 --online --update-interval 8 --lr 1e-4 --positions all --baseline \
                  --save-draft "$D/online-sql400-l2"
                run traces/smollm2-offline-frozen-g2-cpu.jsonl "${BASE[@]}" --gamma 2 --draft "$D/offline-eos-l2" \
                  --schedule sql-q:100 --baseline
                # the adapted draft, frozen, on 50 fresh SQL questions (seed 3) at gamma 1, 2 and 3
                for G in 1 2 3; do
                  run "traces/smollm2-sql400-adapted-g$G-cpu.jsonl" "${BASE[@]}" --draft "$D/online-sql400-l2" \
                    --schedule sql-q:50 --seed 3 --gamma "$G" --baseline
                done ;;
    # ShareGPT's packaged part holds 13-34 prompts for each of these languages outside the training
    # split (zh and fr 19, de 13), one each for ja and ru; four of them here, 16 records each.
    languages) for LN in zh:16 ko:16 es:16 pt:16; do
                 run "traces/smollm2-lang-${LN%%:*}-cpu.jsonl" "${COMMON[@]}" --draft "$D/text-l2" \
                   --schedule "chat-$LN" "${ONLINE[@]}"
               done ;;
  esac
done
