// Compiled by `npm run check-types` (tsc --noEmit): the README's example against the package's types.
import { createClient, openForm, type Evaluation } from '../src/index.js';

async function example(): Promise<Evaluation | null> {
  const client = createClient({ baseUrl: 'https://api.example.com', lang: 'de' });
  const session = await openForm(client, { categoryId: '0193…', onChange: (s) => void s.evaluation });
  await session.set('brand', '0193…');
  const models: Array<{ id: string; name: string }> | null = session.optionsOf('model');
  void models;
  const submitted = await session.submit();
  const version: number = submitted.version;
  void version;
  return session.evaluation;
}
void example;
