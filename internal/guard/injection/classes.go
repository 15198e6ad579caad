package injection

import "strings"

// Word classes let a pattern name a family of words ("%override
// ~3 %scope ~3 %target") instead of spelling out one phrasing, so that a
// paraphrase made of other members of the same families still matches:
// "set aside the guidance you were configured with" is the same attack as
// "ignore your previous instructions". A class holds single words and
// '+'-joined phrases; verbs and nouns get their inflections, so "ignoring",
// "disregarded" and "guidelines" need not be listed.
var wordClasses = map[string][]string{
	// Verbs that tell a reader to stop obeying something.
	"override": join(
		verbs(`ignore disregard forget overlook neglect override overrule overwrite
			bypass circumvent sidestep discard abandon ditch dismiss drop scrap skip
			supersede erase wipe violate disobey defy break
			set+aside put+aside cast+aside lay+aside push+aside brush+aside
			throw+away throw+out toss+out toss+aside let+go+of
			pay+no+attention+to pay+no+heed+to pay+no+mind+to take+no+notice+of
			stop+following stop+obeying stop+listening+to stop+adhering+to
			stop+applying stop+respecting stop+honoring stop+honouring
			get+rid+of break+free+from break+free+of deviate+from depart+from
			opt+out+of move+past go+against cancel revoke nullify rescind retract`),
		words(`no+longer+follow no+longer+obey no+longer+need+to+follow
			no+longer+have+to+follow no+longer+need+to+obey
			don't+follow do+not+follow dont+follow don't+obey do+not+obey
			don't+bother+with do+not+bother+with never+mind`),
	),
	// What the override verbs aim at: the model's own instructions.
	"target": join(
		nouns(`instruction direction directive guideline guidance rule prompt
			preprompt command programming constraint restriction policy
			limitation guardrail safeguard protocol mandate briefing conditioning
			pre+prompt system+prompt system+message system+instruction
			developer+message developer+instruction safety+rule safety+guideline
			content+policy ethical+guideline core+instruction base+instruction
			operating+instruction standing+order`),
	),
	// Words before the target that make it the model's earlier ones.
	"scope": words(`previous prior above earlier preceding foregoing initial original
		all any every your whatever hidden system developer safety standing
		built+in pre+existing openai anthropic google microsoft operator
		operators creator creators`),
	// Words after the target that make it the model's earlier ones:
	// "the rules above", "your guidelines anymore".
	"afterscope": words(`above before earlier previously anymore so+far until+now
		up+to+now thus+far any+longer from+before given+to+you provided+to+you
		you+were+given you've+been+given`),
	// Who configures a model.
	"authority": join(
		nouns(`developer operator creator admin administrator owner maker programmer
			trainer engineer company team provider deployer`),
		words(`openai anthropic google microsoft meta system management`),
	),
	// Verbs after "you" that say the target was given to the model:
	// "the rules you were given", "the guidance you were set up with".
	// Participles and verbs of receiving only: "the instructions you gave
	// me" are the model's answer, not its prompt.
	"given": words(`given received receive receiving got gotten get getting told
		handed configured set trained programmed instructed initialized
		initialised started provided assigned loaded fed issued taught equipped
		bound briefed primed seeded shown supplied follow follows following obey
		obeys obeying operate operating`),
	// The model, as text addressed to it names it.
	"model": join(
		nouns(`ai assistant llm model chatbot bot agent gpt chatgpt claude gemini
			copilot bard llama mistral language+model large+language+model
			ai+model ai+system ai+agent ai+assistant virtual+assistant
			automated+assistant automated+system automated+agent ai+tool ai+bot
			llm+agent ai+summarizer ai+reviewer ai+screener ai+crawler ai+reader`),
	),
	// Groups of models, as a note addressed to whichever reads it names
	// them: "LLM agents:", "AI assistants:".
	"models": join(
		words(`ais assistants models agents bots llms chatbots crawlers`),
		words(`llm+agents ai+agents ai+assistants ai+models ai+systems ai+tools
			language+models large+language+models ai+crawlers ai+bots llm+tools
			ai+summarizers ai+reviewers ai+screeners ai+readers automated+agents
			automated+systems automated+assistants`),
	),
	// Restrictions only a model has; "no restrictions" alone also describes
	// a budget or a parking lot.
	"ailimits": join(
		nouns(`filter guardrail safeguard content+policy content+filter
			safety+rule safety+guideline safety+filter safety+feature
			safety+protocol safety+layer safety+system safety+setting
			safety+measure safety+restriction safety+check ethical+guideline ethical+constraint
			moral+limitation content+restriction usage+policy
			content+guideline`),
		words(`filtering censorship ethics morals morality alignment programming
			moderation conscience safety+training content+filtering
			content+moderation safety+mode safe+mode`),
	),
	// What a model does to a document that addresses it.
	"reading": words(`reading processing summarizing summarising parsing reviewing
		analyzing analysing screening browsing scanning evaluating answering
		handling triaging grading ranking indexing crawling translating
		reads processes summarizes summarises parses reviews analyzes analyses
		scans sees evaluates handles grades ranks crawls ingests ingesting
		encounters`),
	// The same verbs in the base form: "when you review this file".
	"readbase": words(`read review process summarize summarise parse analyze analyse
		scan evaluate handle grade screen crawl ingest see encounter answer`),
	// Nouns for what the model is reading.
	"doc": join(
		nouns(`page email message document file text website site article review
			resume résumé cv application ticket code repository repo post comment
			content invoice listing description transcript paper pdf report
			submission essay note record profile pull+request invite invitation
			event thread snippet result conversation chat mail inbox attachment`),
	),
	// Verbs that ask for text to be shown.
	"reveal": join(
		verbs(`reveal print show repeat output display tell give share disclose leak
			dump echo recite spell list copy paste type expose return provide state
			quote read write reproduce transcribe summarize summarise paraphrase
			translate write+out print+out spit+out read+back read+out`),
		words(`let+me+see let+me+read`),
	),
	// Verbs of wanting to see something.
	"want": verbs(`see read view know access obtain learn hear inspect examine`),
	// Adjectives of the model's hidden configuration.
	"secretadj": words(`system hidden secret initial original confidential internal
		underlying private developer pre invisible starting opening core base`),
	// Nouns for the model's configuration text.
	"promptnoun": join(
		nouns(`prompt preprompt instruction directive guideline programming
			configuration message setup preamble pre+prompt meta+prompt`),
		words(`rules config settings`),
	),
	// Restrictions a jailbreak wants gone.
	"limits": join(
		nouns(`restriction limitation limit filter censorship policy guideline rule
			ethic moral boundary safeguard guardrail constraint principle
			safety+training safety+rule safety+guideline safety+filter
			safety+measure safety+protocol safety+feature safety+setting
			content+policy content+filter content+restriction ethical+guideline
			ethical+constraint moral+limitation moral+compass alignment+training
			safety+mode safe+mode`),
		words(`filtering morality programming ethics morals conscience alignment
			censoring moderation`),
	),
	// Words that say something is absent.
	"without": words(`no without zero lacking lacks lack free freed unbound escaped
		removed minus beyond
		free+of free+from freed+from released+from never+given never+had
		not+bound+by unconstrained+by liberated+from stripped+of exempt+from
		doesn't+have doesn't+have+any does+not+have does+not+have+any
		don't+have don't+have+any do+not+have do+not+have+any has+no have+no
		doesn't+follow+any does+not+follow+any doesn't+obey+any isn't+bound+by
		is+not+bound+by never+follows ignores ignoring has+escaped escaped+from`),
	// Words for a model without restrictions.
	"unrestricted": words(`unrestricted unfiltered uncensored unaligned unmoderated
		unbound unchained unshackled jailbroken amoral unhinged unleashed
		limitless lawless`),
	// Verbs and phrases that assign the model a persona.
	"persona": join(
		verbs(`pretend act behave roleplay simulate emulate impersonate become
			role+play play+the+role+of play+as respond+as answer+as reply+as
			speak+as write+as switch+to switch+into turn+into transform+into
			take+on+the+role+of assume+the+role+of stay+in+character
			imagine+you+are imagine+you're imagine+being imagine+yourself`),
		words(`you+are+now you're+now you+will+be you'll+be you+are+going+to+be
			you're+going+to+be you+are+going+to+act you+will+act you+will+behave
			you+will+now you'll+now you+play you+become you+are+playing
			from+now+on+you from+now+on+you're`),
	),
	// Words for a state of being switched off.
	"disabled": words(`disabled deactivated removed lifted suspended off gone paused
		waived switched+off turned+off shut+off`),
	// Words for instructions that no longer hold.
	"voided": words(`void null cancelled canceled revoked rescinded obsolete invalid
		invalidated overridden superseded lifted suspended disabled removed waived
		deactivated withdrawn expired retired outdated irrelevant replaced
		no+longer+apply no+longer+valid no+longer+binding no+longer+in+effect
		no+longer+in+force no+longer+matter no+longer+relevant no+longer+bind
		no+longer+count no+longer+hold null+and+void no+longer+matters
		no+longer+applies no+longer+counts no+longer+holds no+longer+binds
		don't+matter doesn't+matter do+not+matter does+not+matter don't+apply
		doesn't+apply do+not+apply does+not+apply is+over are+over`),
	// Verbs of sending data somewhere.
	"send": verbs(`send post upload forward transmit exfiltrate leak email mail submit
		relay append attach include encode embed pass copy report deliver put add
		beam sync cc bcc share push ship route dump`),
	// The conversation and what it holds.
	"convo": join(
		nouns(`conversation chat transcript history message memory context thread
			exchange dialogue dialog log`),
		words(`everything pii personal user's users`),
	),
	// Secrets and personal data a model may hold.
	"secret": join(
		nouns(`secret password credential key token cookie ssn api+key access+token
			contact+list contact+detail email+address phone+number home+address
			credit+card payment+detail bank+detail location one+time+code otp
			verification+code security+code pin+code auth+code login+code
			recovery+code seed+phrase private+key license+key activation+key
			product+key saved+address`),
		words(`pin 2fa+code mfa+code`),
	),
	// Imperative verbs an injected note gives the model that reads it.
	"directive": verbs(`approve recommend rank rate mark say tell reply respond praise
		forward send classify flag include output write ignore disregard
		describe state claim insist report label score promote endorse favour
		favor prefer select choose accept reject delete remove call visit
		click navigate download add complete purchase buy order book transfer
		pay subscribe sign confirm grant share post publish upload execute run
		open install email`),
	// The override, target and scope families in Spanish, Portuguese,
	// Italian, French and German, for the same combinations as in English.
	"ov_es": words(`ignora ignore ignorar ignores ignoren olvida olvide olvidar olvides
		omite omita descarta descarte desobedece salta sáltate evita elimina borra
		deja+de+seguir no+sigas no+obedezcas haz+caso+omiso+de hagan+caso+omiso+de
		no+hagas+caso+a no+hagas+caso+de`),
	"tg_es": words(`instrucciones instrucción instruccion reglas regla indicaciones
		órdenes ordenes directrices normas restricciones limitaciones políticas
		politicas filtros prompt configuración configuracion programación
		programacion pautas`),
	"sc_es": words(`todas todos tus sus anteriores previas originales iniciales ocultas
		del+sistema de+seguridad`),
	"ov_pt": words(`ignore ignora ignorar esqueça esqueca esquece esquecer desconsidere
		desconsidera despreze descarte pare+de+seguir não+siga nao+siga`),
	"tg_pt": words(`instruções instrucoes instrução instrucao regras regra orientações
		orientacoes diretrizes restrições restricoes limitações limitacoes políticas
		politicas filtros prompt configuração configuracao programação programacao
		normas`),
	"sc_pt": words(`todas todos suas seus tuas teus anteriores prévias previas iniciais
		originais ocultas do+sistema de+segurança de+seguranca`),
	"ov_it": words(`ignora ignorare ignorate ignori dimentica dimenticare dimenticate
		dimentichi trascura tralascia scarta salta smetti+di+seguire non+seguire`),
	"tg_it": words(`istruzioni istruzione regole regola indicazioni direttive restrizioni
		limitazioni politiche filtri prompt configurazione programmazione norme`),
	"sc_it": words(`tutte tutti tue tuoi sue suoi precedenti iniziali originali nascoste
		di+sistema di+sicurezza`),
	"ov_fr": words(`ignore ignorez ignorer oublie oubliez oublier néglige négligez
		écarte écartez contourne contournez outrepasse outrepassez abandonne
		abandonnez arrête+de+suivre cesse+de+suivre ne+suis+plus ne+suivez+plus`),
	"tg_fr": words(`instructions consignes règles regles directives indications ordres
		restrictions limites politiques filtres prompt configuration programmation`),
	"sc_fr": words(`toutes tous tes vos ses précédentes precedentes antérieures
		anterieures initiales originales cachées cachees système systeme
		de+sécurité de+securite`),
	"ov_de": words(`ignoriere ignorieren ignorier vergiss vergessen missachte missachten
		übergehe verwirf umgehe umgehen überspringe hör+auf`),
	"tg_de": words(`anweisungen anweisung instruktionen regeln vorgaben befehle
		richtlinien einschränkungen beschränkungen filter sicherheitsrichtlinien
		sicherheitsregeln systemanweisungen systemprompt systemnachricht
		programmierung`),
	"sc_de": words(`alle deine ihre bisherigen vorherigen ursprünglichen früheren obigen
		versteckten geheimen`),
	// Verbs asking to show text, and words marking the model's setup, in
	// the same languages.
	"reveal_ml": words(`muestra muéstrame muestrame revela revélame revelame dime imprime
		repite escribe enséñame ensename copia mostra mostrami rivela rivelami dimmi
		stampa ripeti scrivi mostre revele diga diz imprima repita escreva révèle
		revele révélez revelez affiche affichez montre montrez donne donnez dis
		répète repete écris ecris imprime zeig zeige gib nenne verrate wiederhole
		schreib drucke`),
	"setup_ml": words(`sistema système systeme system systemnachricht systemprompt
		reçu recu reçues recues recibiste recibido recebeu recebido ricevuto
		ricevute erhalten ocultas oculto ocultos nascoste nascosto cachées cachees
		caché cache secretas segrete secrètes versteckten geheimen iniciales
		iniciais iniziali initiales`),
	"msg_ml": words(`instrucciones instruções instrucoes istruzioni instructions consignes
		anweisungen mensaje mensagem messaggio message nachricht systemnachricht
		prompt reglas regras regole règles regeln configuración configuracao
		configurazione configuration konfiguration`),
	// Verbs that switch a safeguard off.
	"disable": verbs(`disable deactivate remove lift suspend bypass circumvent drop
		disengage relax loosen waive switch+off turn+off shut+off`),
}

// join concatenates word lists.
func join(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// words splits a space-separated list without inflecting it.
func words(s string) []string { return strings.Fields(s) }

// verbs splits a list and adds the inflections of each verb (of the first
// word of a phrase): ignore, ignores, ignored, ignoring.
func verbs(s string) []string {
	var out []string
	for _, f := range strings.Fields(s) {
		head, tail, _ := strings.Cut(f, "+")
		if tail != "" {
			tail = "+" + tail
		}
		for _, form := range verbForms(head) {
			out = append(out, form+tail)
		}
	}
	return out
}

// nouns splits a list and adds the plural of each noun (of the last word of
// a phrase).
func nouns(s string) []string {
	var out []string
	for _, f := range strings.Fields(s) {
		i := strings.LastIndexByte(f, '+') + 1
		out = append(out, f, f[:i]+plural(f[i:]))
	}
	return out
}

// irregular verb forms that the suffix rules do not produce.
var irregular = map[string][]string{
	"forget":   {"forgot", "forgotten"},
	"throw":    {"threw", "thrown"},
	"give":     {"gave", "given"},
	"tell":     {"told"},
	"get":      {"got", "gotten"},
	"override": {"overrode", "overridden"},
	"overwrite": {
		"overwrote", "overwritten",
	},
	"write":  {"wrote", "written"},
	"show":   {"shown"},
	"break":  {"broke", "broken"},
	"teach":  {"taught"},
	"feed":   {"fed"},
	"bind":   {"bound"},
	"become": {"became"},
	"read":   {"read"},
	"see":    {"saw", "seen"},
	"know":   {"knew", "known"},
	"hear":   {"heard"},
	"leave":  {"left"},
	"speak":  {"spoke", "spoken"},
	"take":   {"took", "taken"},
	"have":   {"had", "has"},
	"send":   {"sent"},
	"spit":   {"spat"},
	"leak":   {"leaked"},
	"put":    {"put"},
	"set":    {"set"},
	"cast":   {"cast"},
	"lay":    {"laid"},
	"pay":    {"paid"},
	"let":    {"let"},
	"go":     {"went", "gone"},
	"say":    {"said"},
	"ship":   {"shipped"},
}

// verbForms returns a verb and its regular inflections, plus the irregular
// ones. A form the rules get wrong ("forgeted") is harmless: it never
// occurs in text.
func verbForms(v string) []string {
	out := []string{v, plural(v)}
	stem := v
	switch {
	case strings.HasSuffix(v, "ie"):
		out = append(out, v+"d", v[:len(v)-2]+"ying")
		stem = ""
	case strings.HasSuffix(v, "ee"):
		out = append(out, v+"d", v+"ing")
		stem = ""
	case strings.HasSuffix(v, "e"):
		out = append(out, v+"d", v[:len(v)-1]+"ing")
		stem = ""
	case len(v) > 1 && v[len(v)-1] == 'y' && !isVowel(v[len(v)-2]):
		out = append(out, v[:len(v)-1]+"ied", v+"ing")
		stem = ""
	}
	if stem != "" {
		out = append(out, v+"ed", v+"ing")
		if n := len(v); n >= 3 && !isVowel(v[n-1]) && !strings.ContainsRune("wxy", rune(v[n-1])) &&
			isVowel(v[n-2]) && !isVowel(v[n-3]) {
			// drop → dropped, forget → forgetting.
			out = append(out, v+v[n-1:]+"ed", v+v[n-1:]+"ing")
		}
	}
	return append(out, irregular[v]...)
}

// plural returns the plural of a noun or the third person of a verb.
func plural(w string) string {
	switch {
	case w == "":
		return w
	case strings.HasSuffix(w, "s") || strings.HasSuffix(w, "x") || strings.HasSuffix(w, "z") ||
		strings.HasSuffix(w, "ch") || strings.HasSuffix(w, "sh"):
		return w + "es"
	case len(w) > 1 && w[len(w)-1] == 'y' && !isVowel(w[len(w)-2]):
		return w[:len(w)-1] + "ies"
	}
	return w + "s"
}

func isVowel(c byte) bool { return strings.IndexByte("aeiou", c) >= 0 }
