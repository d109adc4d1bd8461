// One rank of test/distributed.test.ts in a process of its own: the test process is rank 0, this is another.
// argv[2] is JSON {mode, rank, worldSize, port, timeoutMs}; modes:
//   collectives: all-reduce (sum, mean) and broadcast known values, print what came back as JSON
//   loop:        all-reduce forever, printing "ready" after the first (the test kills this process)
//   join:        only the rendezvous (a wrong WORLD_SIZE fails here)
//   step:        one data-parallel train step on rows [start, end) of the batch in `file` (state_dict, x, y), the
//                weights after it saved to `out`
//   fit:         Trainer.fit on the corpus in `file`, whose onEpochEnd throws at `failAtEpoch`: prints the error
//                and stays alive (a library user's process that caught it), until killed
import { Trainer, datasets, models, torch, trainStep, optim } from '../../dist/index.js';
import { World } from '../../dist/torch/distributed/index.js';

const o = JSON.parse(process.argv[2]);
try {
  const world = await World.init({ rank: o.rank, worldSize: o.worldSize, masterPort: o.port, timeoutMs: o.timeoutMs });
  if (o.mode === 'collectives') {
    const a = torch.full([3], o.rank + 1);
    const m = torch.full([2, 2], 10 * (o.rank + 1));
    const b = torch.full([4], o.rank + 100);
    await world.allReduce([a], 'sum');
    await world.allReduce([m], 'mean');
    await world.broadcast([b], 1);
    console.log(JSON.stringify({ sum: a.toArray(), mean: m.toArray(), broadcast: b.toArray() }));
  } else if (o.mode === 'step') {
    const { state_dict: state, x, y } = torch.loadTorchFileSync(o.file);
    const model = models.gru(o.config);
    model.loadStateDict(state);
    const opt = new optim.SGD(model.parameters(), o.optim);
    await trainStep(model, opt, x.slice(0, o.start, o.end), y.slice(0, o.start, o.end), { weights: o.weights, clipNorm: 0.5, world });
    await torch.saveTorchFile({ state_dict: model.stateDict() }, o.out);
  } else if (o.mode === 'fit') {
    const data = datasets.fromNpz(o.file);
    const model = models.gru({ inputDim: data.dim, outputDim: data.dim, dModel: 16, numLayers: 1 });
    const onEpochEnd = (epoch) => {
      if (epoch === o.failAtEpoch) throw new Error(`rank ${o.rank} gives up at epoch ${epoch}`);
    };
    const error = await new Trainer(model, { epochs: 20, batchSize: 32, world, callbacks: { onEpochEnd } }).fit(data).catch((e) => e);
    console.log(`fit failed: ${error.message}`);
    await new Promise((resolve) => setTimeout(resolve, 600_000));
  } else if (o.mode === 'loop') {
    const t = torch.ones([1000]);
    for (let i = 0; ; i++) {
      await world.allReduce([t], 'mean');
      if (i === 0) console.log('ready');
    }
  }
  world.close();
} catch (e) {
  console.error(`${e.name}: ${e.message}`);
  process.exit(3);
}
