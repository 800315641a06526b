Há um show amanhã
Eu trabalharei com ela
Em cada minuto de raiva você perde sessenta segundos de paz de espírito.
Tom apresentou-se a todos.
Escrevo em nome de meu marido, que está no hospital.
O que dizem?
Tom tem um pênis grande.
Tom lê a Bíblia todo dia.
Olá, eu sou Sepideh.
Eu farei tudo o que puder para ajudar o Tom.
Você não perguntou a Tom por que ele fez isso?
Você é muito jovem para dirigir um carro.
Tom parece determinado.
Gostaria de que estas calças fossem limpas.
Eu serei mais cuidadoso
O Tom contou para a Mary.
Tom admitiu que ele era preguiçoso.
Tom canta no coral da escola.
Tom e eu temos nossas diferenças.
Temos que encontrar o Tom primeiro.
Eu suspeito que o Tom já saiba disso.
O Tom sabe exatamente do que está falando.
Não quero ouvir nenhuma outra queixa sobre você.
Eu estou com vontade de comer alguma coisa.
Layla até se mudou para um quarto separado.
Tom não se importa se você vencer.
Tom encheu o copo de vinho de Mary até a borda.
Eu não tenho tempo para isso
Tom entrou no meu escritório e fechou a porta.
O Tom sabe que ele estava errado.
O chão estava muito frio
Quando tu podes vir à minha casa?
Eu quero sonhar
Quando poderás vir à minha casa?
Você tem mãos bonitas.
Você pode me dar uma outra alternativa?
John tentou, em vão, resolver o problema.
Vocês gostam de música?
Elas não têm autocrítica.
Eu estava querendo falar com você.
O trânsito é pesado por aqui.
Pense cuidadosamente sobre isso.
Tom gostava de ajudar a Mary.
Eu me pergunto se Tom está realmente com medo.
A água na estrada era apenas uma miragem.
Eu estava com medo de chamá-la para sair.
Dançamos juntos.
Escalei o monte Fuji quatro vezes.
O show durou aproximadamente três horas.
John não suporta o barulho.
Tom detesta cidades barulhentas.
Você está em boa companhia.
O motor é barulhento.
Foi uma competição.
Nós não podemos reclamar.
Nós não deveríamos reclamar.
Você é estrangeiro?
Por que você está sempre reclamando?
Ele orou antes de comer.
Tom cometeu apenas três erros.
Tom me beijou antes de sair.
Meu médico aconselhou que eu parasse de tomar esse remédio.
Resumindo, estou dizendo que a sociedade está melhorando.
Bons hábitos alimentares são essenciais.
As frutas são secas no sol.
Você parece gostar de frutas.
Não dá para respirar aqui.
Se não fosse pela minha família, eu desistiria deste emprego.
Ela adora pescar.
Sinto saudades de casa quando lembro de minha família.
Ele é o tipo de cara que não leva as mulheres muito a sério.
Por favor, não alimente os pombos.
Estou esperando ansiosamente a sua visita durante as férias de verão.
Quanto dinheiro foi economizado na preparação para as férias de verão?
Não tenho nada para abrir a lata.
Centenas de pessoas ligaram ou escreveram à Fundação Gorila.
Matamos centenas de faisões a tiro.
Centenas de pessoas trabalham nessa fábrica.
Quanto tempo dura a viagem?
Eu nem sempre uso protetor solar.
Que horas o jogo vai começar?
Quando deveríamos fazer as reservas?
Ela acertou em cheio.
Eu tive de correr.
Antes só do que mal acompanhado.
Isso nunca acabará.
Fizemos uma melhora drástica.
Hoje é 18 de junho e é o aniversário de Muiriel!
Eu sei onde ele mora, mas é segredo.
Avise-nos quando o senhor estiver para vir à Austrália.
Você só está fugindo dos problemas da vida.
Gostaria de visitar a Inglaterra um dia.
A situação é pior do que imaginávamos.
Não gosto do inverno.
Trarei a conta imediatamente.
A fila está se movendo muito devagar.
Você nunca tem tempo para as coisas importantes.
Você realmente precisa fazer a pergunta para saber a resposta?
Você deve se desculpar a ela por isso.
Voê sabe bastante sobre sumô.
Isto não é justo.
Não corra riscos desnecessários.
Correr riscos desnecessários é abusar da sorte!
Você depende muito dos outros.
Você deveria se envergonhar da sua ignorância.
Você sabe usar um dicionário?
Você vem conosco agora.
Em que série você está?
Você vai ficar em casa?
Você deveria se cuidar melhor.
Você deveria ter vindo antes.
Você deveria ser mais cuidadoso.
Você deveria estudar mais.
Com que frequência você usa a câmera de seu smartphone?
A qual clube você pertence?
Você pode sempre contar com o Tom.
Com que frequência você vai ao exterior?
Você terminou de ler o romance?
Você é a favor ou contra aquela política?
Você não deveria menosprezar esse resultado.
Por que não deixamos Tom cuidar desse assunto? Afinal de contas, ele é o perito, certo?
Você já é grandinho o suficiente para entender isso.
Você está pedindo muito dinheiro por esse carro.
De certa forma, você está certo.
Você não deveria responder aos seus pais dessa forma.
Em que série está a sua irmã?
Tentamos fazer o nosso melhor.
Você notou um padrão?
Por que você não vai a um banco?
Falei com o Tom noite passada.
Tom diz que Mary é sua alma gêmea e que eles foram feitos um para o outro.
Tom se foi.
Nós estávamos lá ontem à noite.
Os médicos dizem que as crianças que foram amamentadas são geralmente mais saudáveis.
Algumas pessoas acham que asa-delta é um esporte perigoso.
Vocês não entendem o que está acontecendo aqui?
Esqueça completamente esse assunto.
Vimos esse padrão antes.
Acredito que a educação deve ser secular, e não enraizada na religião.
O médico tentou extrair-lhe das costas a bala.
Tom nunca anda descalço.
Nós estamos jantando fora de casa.
Tom nos pediu que não deixássemos de chegar lá pontualmente.
Como é possível tirar o máximo proveito deste livro?
Tom não queria andar na corda bamba sem uma rede.
Ela correu para seu quarto, chorando.
Nos conte o que aconteceu no parque.
Preste atenção no que está fazendo.
Eu caí para trás.
Eu pratiquei falar francês com Tom.
Como eu posso ir ao jardim zoológico?
Nos anos bissextos, fevereiro tem 29 dias.
Meu pai lê o jornal toda manhã.
Não acredite em nada que ele diga.
Maria tem muitas responsabilidades.
Isso é algo inesquecível.
Tom ficou fora por um fim de semana.
Eu ficarei bem.
A lua estava acima do horizonte.
Tinha 23 anos de idade quando eu pintei este quadro.
Seja um pouco mais indulgente!
Seja um pouco mais complacente!
A lua está no céu.
Não há ar na lua.
Nunca desisto.
Seja um pouco mais bondoso!
Seja um pouco mais misericordioso!
Tom era muito educado para dizer não.
Tenho estado muito ocupado com os exames!
Sadako sorriu para elas.
Tom não gosta de comer cebolas.
Você deve me avisar quando vier aqui da próxima vez.
É difícil respirar quando a umidade está alta.
Eu só queria perguntar uma coisa para o Tom.
Daremos a você a sua vingança.
Tom conversou com Maria.
Estamos querendo aprender.
Eu pensei que estaríamos mais confortáveis aqui.
Se ajudem com o dever de casa.
Nós acabamos de chegar aqui.
Sei onde e com quem você dormiu ontem à noite.
Faltam dez dias para a reunião.
Você pode ver por milhas do telhado.
Eu deveria ter trazido minha câmera.
Preciso de amigos.
Eu não tive a coragem para lhe dizer a verdade.
Se a carapuça servir, vista-a.
De qualquer forma, três contra um é injusto.
Nunca machucamos o Tom.
Retiro tudo o que disse anteriormente.
Alguns se ralaram, mas ninguém chegou a se ferir gravemente.
Você sempre mereceu tirar boas notas.
Gostaria de que a dor que você está sentindo passasse para mim.
Se eu te conhecesse melhor, talvez te deixaria entrar.
De agora em diante as coisas vão mudar. Para pior.
Este é o fim da minha história.
Cale-se! Você está falando demais.
Alguém lembra por que nós decidimos fazer aquilo?
Ontem eu joguei com Tony.
Como se chama este animal no Japão?
Ele é confiável.
Dava gosto ver o Sami dançar.
Posso bater fotos aqui?
Pode me dizer onde fica o banheiro?
Comíamos enquanto chorávamos.
Seu armário já está lotado. Você vai ter que arrumar espaço em algum outro lugar para as roupas que comprou.
Todas as maçãs estão aqui.
Tom foi acusado de assédio sexual pelas suas colegas do sexo feminino.
Não quero saber o que você acha disso.
Tom não ficou fora por muito tempo.
Esse assunto é extremamente polêmico.
Cortaram meu cabelo muito curto.
Uma parte deste país pertence a mim.
Tom sonhava em ganhar.
Eu queimei meu dedo.
Eu lamento por isso ter acontecido.
Quando foi a primeira vez que você encontrou ela?
Deveríamos prestar mais atenção aos problemas ambientais.
Lamento por isso ter acontecido.
Tu entendes, não?
Isso provavelmente não será tão divertido quanto você pensa.
Tom gosta de comédias românticas.
Fadil e Layla se casaram depois de apenas quatro meses.
Quando foi que o Tom voltou?
Isso é um ônibus ou um carro?
Quem vai dirigir?
Por que o Tom iria querer me ajudar?
Aquele livro é meu.
Eu ficarei em casa amanhã.
Vocês têm que trabalhar aos domingos?
Nós todos conhecemos o Tom.
Odeio matemática.
Isto não é comida.
Isto não é difícil.
O Tom não sabia que a Mary se interessava por ele.
Tom tirou seu casaco porque estava ficando muito quente para usá-lo.
Já arrumei meu quarto.
Tom quer ser padre.
Vamos nos divertir o quanto quisermos.
Ligue para o Tom imediatamente.
A esposa de Tom faleceu na semana passada.
Eles viveram uma vida feliz.
Ele não estraga nada.
O que nós somos de verdade, qual é nosso caráter, se não a junção das coisas que vivenciamos desde nosso nascimento.
Ele partiu em uma viagem.
Os três homens grandes estão comendo.
Ele embarcou num avião que ia para Los Angeles.
A criança é tímida e não fala muito.
Tom bebeu três garrafas de vinho sozinho ontem à noite.
Nós fomos de canoa rio abaixo.
A Segunda Guerra Mundial eclodiu em 1939.
O Tom estava comendo sozinho.
Deixo a seu critério.
Sou inocente.
Tom continua esquecendo as coisas.
Você estava nos procurando?
Eu esqueci de lhe dizer onde moro.
Ela não quer que ele compre um anel de noivado caro.
Estou farto de vossas queixas.
O paciente foi liberado do hospital.
Eu sou seu vizinho.
Viver é a coisa mais rara do mundo. A maioria das pessoas apenas existe.
Gentileza gera gentileza.
Resolvi todos os exercícios em menos de meia hora.
Essa é uma escolha interessante.
Esta substância está no estado gasoso.
Esta substância está passando do estado líquido para o estado sólido.
Você é um rapaz gentil.
Prometo que isso não acontecerá novamente.
Os preços estão razoáveis.
Ele os ama.
Eu sempre gostei mais do Tom.
Ele esteve presente na reunião de ontem.
Pergunte ao Tom se a Mary sabe nadar.
O senhor sabe que isso é mentira.
Órion é uma das constelações mais fáceis de reconhecer.
Eu vi o Tom fazer isso na semana passada.
Isso foi comprovado cientificamente?
Passem a noite conosco e as levarei de manhã.
Foi estancada a hemorragia.
O que ele planeja fazer?
Sorriam.
Estou começando a me divertir no meu novo trabalho.
Meu pai consentiu com minha ida ao exterior.
Não quero ficar em seu caminho.
Com quem será que me casarei? Só o futuro dirá.
Você não deve mexer com Tom.
O Tom demonstrou como o dispositivo funcionava.
O Tom sofreu em silêncio.
Qual é o número de meu quarto?
O Tom precisa ir dormir agora.
Quando seria conveniente para você?
Tu tens uma mesa para cinco?
Tudo começou no dia em que completei dez anos.
Tudo começou aquele dia.
Tudo começou numa manhã de janeiro.
Os livros são qual abelhas que carregam o pólen vivificante de uma para outra mente.
Tudo começou neste lugar.
Tudo começou com uma ideia.
É necessário fazer o estudo de idiomas mais fácil.
Urgentemente preciso ir ao banheiro.
Ele tem problemas para acordar na hora.
Gostaria de aprender russo, mas meus amigos me disseram que é difícil.
Sou inocente, juro.
Um espaço está faltando aqui, entre essas duas palavras.
Não vou ficar para ouvir isso! Tenha um ótimo dia!
Não estou com sono.
Amo minha cidade.
O Tom disse que a Mary era uma pessoa legal.
A água do lago é muito fria.
Te escreverei ou telefonarei na semana que vem.
Agora sou triste.
Tom mora numa casa marrom.
Presumo que você está disposto a correr o risco.
Sua família está bem.
Acabei de me lembrar de algo que tenho que fazer.
Você ficará bom logo.
Tom roubou o diamante.
Você sempre me ajudou.
Os dois amigos, enquanto isso, percorreram / rapidamente a senda que os guiava, / e já subiam a colina que se eleva / dominando a cidade e que de cima / olha a fronteira fortaleza.
Eu estou cuidando disso.
Não se preocupe, eu estou cuidando disso.
Eles estão em apuros.
Tu me partiste o coração.
Isso parece ser razoável.
Estа universidade foi fundada por Tom Jackson trinta anos atrás.
O tigre foi morto.
Será que você está bêbado?
Tom não queria perder.
O carbonato de amônio é um composto orgânico.
A senhora sabe que isso é mentira.
Assinale a opção correta.
Doem-me os pés.
Duas coisas as crianças devem receber de seus pais: raízes e asas!
Não conheço aquelas mulheres.
Os mergulhadores não conseguiram voltar.
Isto não é verdadeiro.
Você ganhou na loteria? Impossível!
Algumas pessoas me fitaram de maneira embaraçosa.
Isto não é direito.
Gostaria de tomar café da manhã com você.
Isto não é seguro.
O dia de São Valentim comemora-se em fevereiro.
O Halloween celebra-se em outubro.
Terça-feira é o Dia da Independência.
Fadil entrou em um campo minado.
Uma cerveja, por favor.
Uma coca, por favor.
Tom não fala muito bem em francês.
Estou feliz por você ter voltado.
Eu estou super cansado, mas mesmo assim não consigo dormir.
Você já experimentou essa salada nova?
Eu estava com tanta pressa que esqueci de trancar a porta.
O que é que os senhores acharam que o Tom faria?
Eu fui enganado por alguém que eu achei que fosse meu amigo.
Gostaria de mudar de quarto.
Tom disse que ele queria jogar.
Eu queria ser um fazendeiro.
Sou muito gorda.
Tom e Maria querem ter filhos.
Você sabe que te amo.
Ela leu a carta, e então veio a saber que ele estava morto.
Ele escreve a carta.
Quem foi que inventou os óculos?
Eu conheço o Tom mais do que a Mary.
Todos os personagens desta história em quadrinhos são meninas.
Eu preciso estar aqui amanhã?
Será que vai dar?
Tom trabalha cerca de 30 horas por semana.
Não coloco açúcar no meu chá.
Para não acordar o bêbê, nós conversamos em voz baixa.
Eu pensei que o Tom estivesse carregando uma arma.
Eu pensei que o Tom fosse comprar aquele carro.
Eu entendo mais do que você pensa.
Eu quero saber o que preciso saber.
Eu quero saber quem lhe deu isso.
O amigo do meu pai é um novelista famoso.
Há três quartos vagos, mas não é possível utilizar nenhum deles.
Eu estava para ir embora sem você.
Eu só estava tentando ser amigável.
Eu tinha treze anos quando escrevi aquilo.
Não era eu quem estava dirigindo o carro.
Eu não estava tentando esconder nada.
Nós ouvimos o barulho do sino da igreja que fica perto.
Eles estão lendo o livro dela.
Este livro é muito pesado.
Queria ter podido ajudá-lo.
Queria que tivéssemos mais tempo juntos.
De que será que se tratava?
O que será que o Tom está esperando?
Eu me perguntei a mesma coisa.
Eu adoraria jantar com você.
Eu nunca me casaria com alguém como você.
Eu voltarei o mais cedo possível.
Eu terei terminado isso aqui em uma hora.
Eu estarei no meu escritório a manhã inteira.
Fui a Paris.
Eu sei que você não queria que o Tom fosse para a cadeia.
Este remédio te fará bem.
Tentarei meu melhor hoje, também.
Vamos dar uma descansada aqui. Minhas pernas estão cansadas e não posso mais andar.
"Obrigado." "Imagina."
"Obrigado." "Não tem de quê."
Sou quatro anos mais novo que ele.
A casa que Tom construiu é realmente linda.
Em minha opinião, um sítio web bem projetado não deveria solicitar rolamento horizontal da tela.
Tom sentou-se em silêncio por 30 minutos.
Tom tem uma casa de dois quartos.
Estou com um pouco de fome.
Eu vou usar o toalete.
Que livro interessante!
De repente, minha mãe começou a cantar.
Jim não é advogado, mas sim médico.
Ela me mostrou o seu novo carro.
Ele sempre canta enquanto toma banho.
Muitos morrerão.
Parece raro.
Você precisa se tornar mais ativo.
Bom, está ficando tarde. Agora vamos.
Não te preocupes, todos cometem erros.
Quero que você vá embora agora mesmo.
Deveríamos aprender a ser disciplinados em nossas vidas.
Meus pais se foram.
O homem que está dirigindo o ônibus é meu melhor amigo.
Já se foram cinco anos e eu ainda me lembro disso.
Para quem você vai dar o livro?
Aquilo é um morcego?
Um cachorro mordeu a perna dela.
Queria ser um pássaro.
Com quem você vai jantar?
Queria poder virar um pássaro.
Tom comprou uma casa de seis cômodos.
Achei difícil ler o livro.
Posso tirar uma foto aqui?
Desista dessa ideia.
Tom pegou um pedacinho de torta.
Tom é um garoto honesto, então ele não mente.
Tom é honesto, então eu gosto dele.
Tom é uma pessoa honesta, então eu gosto dele.
Tom estava cansado e de mau humor.
Tom disse estar doente, mas isso era mentira.
Ficar em casa é chato.
Eu posso fazer isso por ela, ao contrário de você.
Ela tem 2.000 livros.
Ele começou a procurar trabalho.
Eu gosto de escutar música clássica.
Pedi-lhe que me levasse para casa.
Não tem amor sem inveja.
Já estivestes em Tóquio?
Aquela é uma espécie migratória.
As chaves estão em cima da mesa.
Deixa meu carro em paz.
Seu machucado sangrava.
Vou a Paris este outono.
Não acho que valha a pena fazer tal coisa.
O padre nos benzeu.
Acho que Yumi está doente.
Tive de partir de Boston.
"Papai, por que é que o céu é azul?" "Ora, porque sim!"
O táxi é mais caro que o ônibus.
A bela mulher é generosa.
O Tom é um bom amigo.
Eu tenho que pegá-lo na estação.
Eu preciso mudar a minha camisa.
Eu gostaria de uma taça de vinho tinto, por favor.
Eu gostaria de um pouco de sidra, por favor.
Nunca escreva as palavras "borshtch" e "schi" em alemão!
Por causa de que ele está tão bravo?
Eu prefiro trabalhar de noite.
No ano passado choveu muito.
Você pode vir às 9 horas?
Parecia que ela tinha estado muito feliz.
Levou uma semana para ele terminar o trabalho.
Oito mais dois é dez.
É o seu primeiro dia na escola.
Algeme-o.
O Tom está planejando uma festa surpresa para a Mary.
Vivemos longe do aeroporto.
O Tony olhou para baixo, para os sapatos velhos sujos.
Tom queria encontrar uma maneira criativa de dizer a Mary que a amava.
Espera-se uma grande catástrofe.
Você disse que o queria de qualquer jeito!
Dê a um homem um peixe e ele terá jantar por uma noite; ensine-o a pescar e ele terá jantar pela vida toda.
Eu posso provar isso.
Como eu posso me sacrificar por algo que eu não acredito?
O Tom não gostou de viver em Boston.
O Tom é bilíngue.
Sem ossos quebrados.
Quando eu levantei esta manhã, estava a chover.
O Tom não conseguia evitar de se preocupar com a Mary.
Moralidade é simplesmente a atitude que nós adotamos em direção às pessoas que nós não gostamos.
Eu vou dar uma pequena caminhada.
Esta é a casa onde ele vive.
Eu quero que você saiba que eu não poderei estar lá amanhã.
A duração de um dia ou de um ano varia, mas pouco.
Eu vou te ajudar.
Eles são tão fofos juntos.
Fadil decidiu que queria criar a sua família num ambiente diferente de Cairo, então eles mudaram-se para Alexandria.
Qual é a pior das hipóteses?
Mas, Príamo, dirás, que sorte teve?
