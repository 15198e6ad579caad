// Run by `warden exec --mint-key`: the official OpenAI SDK configured only
// by the environment Warden gave it (OPENAI_API_KEY, OPENAI_BASE_URL).
import OpenAI from 'openai';

const client = new OpenAI({ maxRetries: 0 });
const res = await client.chat.completions.create({
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content: 'Say hello' }],
});
if (!/Hello/.test(res.choices[0].message.content)) {
  console.error('unexpected answer');
  process.exit(2);
}
if (!process.env.OPENAI_API_KEY.startsWith('wdn_')) {
  console.error('not a Warden key');
  process.exit(3);
}
console.log('minted ok');
